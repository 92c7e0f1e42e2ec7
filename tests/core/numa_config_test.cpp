// NUMA configurations as the kernel takes them from firmware: the node
// count against MAX_NUMNODES, a SLIT that slit_valid() refuses, a CPU listed
// in several nodes (numa=fake=N) and memoryless nodes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/layout.h"
#include "core/machine.h"
#include "core/machine_files.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

constexpr unsigned kDma32 = 1;

std::string boot_error(const MachineConfig& cfg) {
  auto m = Machine::boot(cfg);
  EXPECT_FALSE(m.ok());
  return m.ok() ? "" : m.error().message;
}

// `nodes` nodes of 4 MiB each, CPUs dealt round-robin.
MachineConfig many_nodes(int nodes) {
  MachineConfig cfg;
  cfg.cpus = 1;
  for (int n = 0; n < nodes; ++n) {
    NodeConfig nc;
    nc.size = 4 * test::kMiB;
    cfg.nodes.push_back(nc);
  }
  return cfg;
}

// acpi_map_pxm_to_node() has no node for a 1025th proximity domain
// (MAX_NUMNODES = 1 << CONFIG_NODES_SHIFT = 1024): "SRAT: Too many proximity
// domains." and the SRAT is dropped. memd refuses, naming the key.
TEST(NumaConfig, MoreNodesThanMaxNumnodesAreRefused) {
  EXPECT_EQ(boot_error(many_nodes(1025)),
            "machine.node: 1025 nodes, but the kernel has at most MAX_NUMNODES = 1024 "
            "(CONFIG_NODES_SHIFT=10): with more proximity domains it prints \"SRAT: Too many "
            "proximity domains.\", ignores the whole SRAT and boots one node");
}

// 1024 nodes are laid out (the layout only: booting builds 1024 zonelists).
TEST(NumaConfig, MaxNumnodesNodesAreLaidOut) {
  auto layout = compute_layout(many_nodes(1024), KernelParams{});
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(layout->nodes.size(), 1024u);
  // 4 GiB in 4 MiB nodes: qemu puts [3 GiB, 4 GiB) of RAM above 4 GiB, so
  // node 768 starts there (pfn 0x100000).
  EXPECT_EQ(layout->nodes[768].start, 0x100000u);
}

// The c-8G-4nodes-dist SLIT with node 1's distance to itself 11:
// slit_valid() fails, acpi_parse_slit() prints its line and returns, and
// numa_alloc_distance()'s defaults (10 local, 20 remote) stay. The zonelists
// are then those of four nodes at equal distance (Zonelist.DefaultDistances
// RoundRobin in buddy_test.cpp), not the SLIT's 1 2 0 3.
TEST(NumaConfig, SlitWithLocalDistanceNot10IsNotUsed) {
  MEMD_BOOT(m, test::machines::four_nodes_16m(
                   {{10, 20, 30, 40}, {20, 11, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}}));
  for (const NodeLayout& n : m.layout().nodes) {
    for (int j = 0; j < 4; ++j) {
      EXPECT_EQ(n.distance[j], j == n.id ? 10 : 20) << n.id << " to " << j;
    }
  }
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 2, 3, 0}));
  ASSERT_EQ(m.warnings().size(), 1u);
  EXPECT_EQ(m.warnings()[0],
            "machine.node[1].distance: the distance to node 1 itself is 11, not LOCAL_DISTANCE "
            "(10): the kernel ignores such a table (\"ACPI: SLIT table looks invalid. Not "
            "used.\") and every node is 10 from itself and 20 from the others");
  // Printed by x86_numa_init() in initmem_init(), after e820's last_pfn and
  // before paging_init()'s zone ranges (the order of the c capture's dmesg).
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("last_pfn = 0x3fe0 max_arch_pfn = 0x400000000\n"
                     "[    0.000000] ACPI: SLIT table looks invalid. Not used.\n"
                     "[    0.000000] Zone ranges:\n"),
            std::string::npos)
      << log;
}

// A remote distance of 10 (as BIOSes that fill the SLIT with 10 write it):
// the table is not used either.
TEST(NumaConfig, SlitWithRemoteDistanceNotAboveLocalIsNotUsed) {
  MEMD_BOOT(m, test::machines::four_nodes_16m(
                   {{10, 20, 10, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}}));
  EXPECT_EQ(m.layout().nodes[0].distance, (std::vector<int>{10, 20, 20, 20}));
  ASSERT_EQ(m.warnings().size(), 1u);
  EXPECT_EQ(m.warnings()[0].rfind("machine.node[0].distance: the distance to node 2 is 10, not "
                                  "above LOCAL_DISTANCE (10): the kernel ignores such a table",
                                  0),
            0u)
      << m.warnings()[0];
  EXPECT_NE(m.kernel_log().dmesg().find("] ACPI: SLIT table looks invalid. Not used.\n"),
            std::string::npos);
}

// slit_valid() takes any byte above 10 off the diagonal, 255 included, and
// asymmetric tables; the rows are used as given and nothing is printed.
TEST(NumaConfig, ValidSlitIsUsedWithoutAWord) {
  MEMD_BOOT(m, test::machines::four_nodes_16m(
                   {{10, 255, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}}));
  EXPECT_EQ(m.layout().nodes[0].distance, (std::vector<int>{10, 255, 30, 40}));
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 2, 3, 1}));
  EXPECT_TRUE(m.warnings().empty());
  EXPECT_EQ(m.kernel_log().dmesg().find("SLIT"), std::string::npos);
}

// What no SLIT can hold is an error naming the key: an entry that is not a
// byte, a row that is not one entry per node.
TEST(NumaConfig, DistanceRowsThatAreNoSlitAreRefused) {
  EXPECT_EQ(boot_error(test::machines::four_nodes_16m(
                {{10, 256, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}})),
            "machine.node[0].distance: 256 is not in 0..255 (a SLIT entry is one byte)");
  EXPECT_EQ(boot_error(test::machines::four_nodes_16m(
                {{10, 20, 30, 40}, {20, 10, 20}, {30, 20, 10, 20}, {40, 30, 20, 10}})),
            "machine.node[1].distance: needs 4 entries, one per node");
}

// numa=fake=2 on a 2-CPU machine: both nodes' cpulists say 0-1. Each CPU's
// home is the lowest node listing it (numa_emu_update_cpu_to_node() maps the
// APIC to the first emulated node), and both CPUs are in both nodes'
// cpumasks (numa_add_cpu()).
TEST(NumaConfig, CpuListedInSeveralNodesIsHomeInTheLowest) {
  MachineConfig cfg = test::machines::two_nodes();
  cfg.nodes[0].cpus = {0, 1};
  cfg.nodes[1].cpus = {1, 0};
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().cpu_node, (std::vector<int>{0, 0}));
  EXPECT_EQ(m.layout().nodes[0].cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(m.layout().nodes[1].cpus, (std::vector<int>{0, 1}));
  // numa_node_id() of CPU 1 is 0: its GFP_KERNEL allocation starts at node
  // 0's DMA32 and counts as local there.
  Allocation a = test::alloc_ok(m, 0, gfp::kKernel, /*cpu=*/1);
  EXPECT_EQ(a.nid, 0);
  EXPECT_EQ(a.zone_idx, kDma32);
  EXPECT_EQ(m.zone(0, kDma32).numa[kNumaLocal], 1u);
  // zone_highsize() splits a zone's low watermark over the CPUs of its
  // node's cpumask: two here, in each node.
  const Zone& z = m.zone(1, kDma32);
  EXPECT_EQ(z.pageset_high_min,
            std::max<int>(static_cast<int>(z.wmark(kWmarkLow) / 2), z.pageset_batch * 4));
}

TEST(NumaConfig, CpuListedTwiceInOneNodeIsRefused) {
  MachineConfig cfg = test::machines::two_nodes();
  cfg.nodes[1].cpus = {1, 1};
  EXPECT_EQ(boot_error(cfg), "machine.node[1].cpus: CPU 1 is listed twice");
}

// Three nodes of which node 1 has CPU 1 and no memory, and is nearer node
// 2 than node 0. find_next_best_node() skips a memoryless local node, so
// node 1's fallback starts at node 2: val(2) = (20 + 1 for CPUs) * 1024 +
// node_load[2] (1, from node 0's list) = 21505 against val(0) = (30 + 1 for
// n < 1 + 1 for CPUs) * 1024 = 32768. Node 0 = DMA [1, 4096) + DMA32 [4096,
// 8192), node 2 = DMA32 [8192, 16352).
MachineConfig memoryless_between() {
  MachineConfig cfg = test::pc_machine(64 * test::kMiB, 3, true);
  const std::vector<std::vector<int>> dist = {{10, 30, 20}, {30, 10, 20}, {20, 20, 10}};
  const uint64_t sizes[] = {32 * test::kMiB, 0, 32 * test::kMiB};
  for (int n = 0; n < 3; ++n) {
    NodeConfig nc;
    nc.size = sizes[n];
    nc.cpus = {n};
    nc.distance = dist[n];
    cfg.nodes.push_back(nc);
  }
  return cfg;
}

TEST(NumaConfig, MemorylessNodeFallsBackToTheNearestNodeWithMemory) {
  MEMD_BOOT(m, memoryless_between());
  const std::string log = m.kernel_log().dmesg();
  EXPECT_NE(log.find("] Initmem setup node 1 as memoryless\n"), std::string::npos) << log;
  EXPECT_NE(log.find("] Fallback order for Node 0: 0 2 \n"
                     "[    0.000000] Fallback order for Node 1: 2 0 \n"
                     "[    0.000000] Fallback order for Node 2: 2 0 \n"),
            std::string::npos)
      << log;
  EXPECT_EQ(render_zonelists(m),
            "Node 0 fallback: DMA32/0 DMA/0 DMA32/2\n"
            "Node 0 nofallback: DMA32/0 DMA/0\n"
            "Node 1 fallback: DMA32/2 DMA32/0 DMA/0\n"
            "Node 1 nofallback: (none)\n"
            "Node 2 fallback: DMA32/2 DMA32/0 DMA/0\n"
            "Node 2 nofallback: DMA32/2\n");
  // CPU 1's pages come from node 2, and go back to CPU 1's per-cpu list
  // there (node 2's DMA32 has batch 1: the refill leaves nothing on it).
  Allocation a = test::alloc_ok(m, 0, gfp::kKernel, /*cpu=*/1);
  EXPECT_EQ(a.nid, 2);
  EXPECT_EQ(a.zone_idx, kDma32);
  test::free_ok(m, a.pfn, /*cpu=*/1);
  EXPECT_EQ(m.zone(2, kDma32).pcp[1].count, 1);
  EXPECT_EQ(m.zone(0, kDma32).pcp[1].count, 0);
}

// With nodes given by start and end, a memoryless node gives size 0.
TEST(NumaConfig, MemorylessNodeAmongNodesGivenByRange) {
  MachineConfig cfg = test::pc_machine(64 * test::kMiB, 2, true);
  NodeConfig n0, n1;
  n0.range = PhysRange{0, 64 * test::kMiB};
  n0.cpus = {0};
  n1.size = 0;
  n1.cpus = {1};
  cfg.nodes = {n0, n1};
  MEMD_BOOT(m, cfg);
  EXPECT_FALSE(m.layout().nodes[1].has_memory());
  EXPECT_EQ(m.node_order(1), (std::vector<int>{0}));
}

TEST(NumaConfig, NodeWithNeitherMemoryNorCpusIsRefused) {
  MachineConfig cfg = test::machines::memoryless_64m();
  cfg.nodes[1].cpus.clear();
  cfg.nodes[0].cpus.clear();
  cfg.cpus = 1;  // dealt round-robin: CPU 0 to node 0, none to node 1
  EXPECT_EQ(boot_error(cfg),
            "machine.node[1]: has neither memory nor CPUs; give it a size (or a start and end "
            "with usable memory) or cpus");
}

// A memoryless node whose CPUs all have a lower home node would never be
// brought up (init_cpu_to_node() onlines home nodes only).
TEST(NumaConfig, MemorylessNodeWithOnlySharedCpusIsRefused) {
  MachineConfig cfg = test::machines::memoryless_64m();
  cfg.nodes[0].cpus = {0, 1};
  cfg.nodes[1].cpus = {1};
  EXPECT_EQ(boot_error(cfg),
            "machine.node[1]: has no memory, and CPU 1 and any others it lists have a lower node "
            "as their home (node 0), so the kernel would not bring the node up; give it memory "
            "or a CPU of its own");
}

TEST(NumaConfig, AllNodesMemorylessIsRefused) {
  MachineConfig cfg = test::machines::memoryless_64m();
  cfg.nodes[0].size = 0;
  cfg.size.reset();
  EXPECT_EQ(boot_error(cfg), "machine.node: no node has memory (every node has size = 0)");
}

}  // namespace
}  // namespace memd
