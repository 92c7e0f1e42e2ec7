#include <gtest/gtest.h>

#include "core/machine.h"

namespace memd {
namespace {

TEST(Boot, DefaultMachineBoots) {
  MachineConfig cfg;
  auto m = Machine::boot(cfg);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Zone& dma = (*m)->zone(0, 0);
  EXPECT_EQ(dma.start_pfn, 1u);
  EXPECT_EQ(dma.spanned, 4095u);
  EXPECT_EQ(dma.present, 3998u);
  EXPECT_EQ(dma.managed, 3840u);
  auto report = (*m)->check();
  EXPECT_TRUE(report.ok()) << report.problems.front();
}

}  // namespace
}  // namespace memd
