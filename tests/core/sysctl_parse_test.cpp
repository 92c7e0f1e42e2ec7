// The one sysctl parser every door uses (parse_sysctl_write, core/config.h),
// against the kernel's rules as read from kernel/sysctl.c (6.18):
// __do_proc_dointvec() skips isspace() before each number and at the end;
// proc_get_long() takes a '-' (only when more follows), then needs a digit,
// reads with strtoul_lenient(base 0), refuses 21-character numbers and any
// character after the number but ' ', '\t', '\n' (proc_wspace_sep);
// do_proc_dointvec_conv() refuses what does not fit an int and
// do_proc_dointvec_minmax_conv() what is outside extra1..extra2. The kernel
// answers EINVAL to each refusal; memd names the reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config.h"
#include "core/machine.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

const SysctlRule& rule(const char* name) {
  const SysctlRule* r = vm_sysctl_rule(name);
  EXPECT_NE(r, nullptr) << name;
  return *r;
}

std::vector<int> accepted(const char* name, const std::string& value) {
  auto v = parse_sysctl_write(value, rule(name));
  EXPECT_TRUE(v.ok()) << name << "=" << value << ": " << (v ? "" : v.error().message);
  return v ? *v : std::vector<int>{};
}

std::string refused(const char* name, const std::string& value) {
  auto v = parse_sysctl_write(value, rule(name));
  EXPECT_FALSE(v.ok()) << name << "=" << value;
  return v ? "" : v.error().message;
}

TEST(SysctlParse, TheKernelsAcceptedForms) {
  EXPECT_EQ(accepted("min_free_kbytes", "5"), std::vector<int>{5});
  EXPECT_EQ(accepted("min_free_kbytes", "  5\n"), std::vector<int>{5});
  EXPECT_EQ(accepted("min_free_kbytes", "\t5 \t\n"), std::vector<int>{5});
  // isspace() before a number includes \r, \v and \f.
  EXPECT_EQ(accepted("min_free_kbytes", "\r\v\f5"), std::vector<int>{5});
  // base 0: 0x hex, leading 0 octal.
  EXPECT_EQ(accepted("min_free_kbytes", "0x10"), std::vector<int>{16});
  EXPECT_EQ(accepted("min_free_kbytes", "0X1f"), std::vector<int>{31});
  EXPECT_EQ(accepted("min_free_kbytes", "010"), std::vector<int>{8});
  EXPECT_EQ(accepted("min_free_kbytes", "0"), std::vector<int>{0});
  EXPECT_EQ(accepted("min_free_kbytes", "2147483647"), std::vector<int>{2147483647});
  // 20 characters is the longest number proc_get_long() reads.
  EXPECT_EQ(accepted("min_free_kbytes", "00000000000000000005"), std::vector<int>{5});
  EXPECT_EQ(accepted("lowmem_reserve_ratio", "-0"), std::vector<int>{0});
  EXPECT_EQ(accepted("lowmem_reserve_ratio", "-2147483648"), std::vector<int>{-2147483648});
  EXPECT_EQ(accepted("lowmem_reserve_ratio", "1 2\t3\n4"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(accepted("lowmem_reserve_ratio", "-0x10 010"), (std::vector<int>{-16, 8}));
  EXPECT_EQ(accepted("watermark_scale_factor", "1"), std::vector<int>{1});
  EXPECT_EQ(accepted("watermark_scale_factor", "3000"), std::vector<int>{3000});
  EXPECT_EQ(accepted("percpu_pagelist_high_fraction", "0"), std::vector<int>{0});
  EXPECT_EQ(accepted("percpu_pagelist_high_fraction", "8"), std::vector<int>{8});
}

TEST(SysctlParse, WhatTheKernelRefusesIsNotAnInteger) {
  const std::string ws =
      " is not an integer (the kernel reads integers separated by spaces, "
      "tabs or newlines)";
  EXPECT_EQ(refused("min_free_kbytes", ""), "no integer given");
  EXPECT_EQ(refused("min_free_kbytes", " \t\n"), "no integer given");
  EXPECT_EQ(refused("min_free_kbytes", "+5"), "'+5' is not an integer");
  EXPECT_EQ(refused("min_free_kbytes", "abc"), "'abc' is not an integer");
  EXPECT_EQ(refused("min_free_kbytes", "-"), "'-' is not an integer");
  EXPECT_EQ(refused("min_free_kbytes", "--5"), "'--5' is not an integer");
  EXPECT_EQ(refused("min_free_kbytes", "- 5"), "'-' is not an integer");
  EXPECT_EQ(refused("lowmem_reserve_ratio", "1,2"), "'1,2'" + ws);
  EXPECT_EQ(refused("lowmem_reserve_ratio", "256 256,32"), "'256,32'" + ws);
  // After a number only ' ', '\t' and '\n' may follow, not '\r'.
  EXPECT_EQ(refused("min_free_kbytes", "5\r"), "'5\r'" + ws);
  EXPECT_EQ(refused("min_free_kbytes", "5x"), "'5x'" + ws);
  EXPECT_EQ(refused("min_free_kbytes", "0x"), "'0x'" + ws);
  EXPECT_EQ(refused("min_free_kbytes", "08"), "'08'" + ws);
  EXPECT_EQ(refused("min_free_kbytes", "000000000000000000005"),
            "'000000000000000000005' is too long (the kernel reads at most 20 characters)");
  EXPECT_EQ(refused("min_free_kbytes", "5 6"), "min_free_kbytes takes one integer, not 2");
}

TEST(SysctlParse, NumbersPastAnIntOrTheBoundsAreOutOfRange) {
  EXPECT_EQ(refused("min_free_kbytes", "99999999999999"),
            "'99999999999999' is out of range (0..2147483647)");
  EXPECT_EQ(refused("min_free_kbytes", "2147483648"),
            "'2147483648' is out of range (0..2147483647)");
  EXPECT_EQ(refused("min_free_kbytes", "18446744073709551616"),
            "'18446744073709551616' is out of range (0..2147483647)");
  EXPECT_EQ(refused("min_free_kbytes", "-1"), "'-1' is out of range (0..2147483647)");
  EXPECT_EQ(refused("watermark_scale_factor", "0"), "'0' is out of range (1..3000)");
  EXPECT_EQ(refused("watermark_scale_factor", "3001"), "'3001' is out of range (1..3000)");
  EXPECT_EQ(refused("watermark_boost_factor", "-1"), "'-1' is out of range (0..2147483647)");
  EXPECT_EQ(refused("lowmem_reserve_ratio", "-2147483649"),
            "'-2147483649' is out of range (-2147483648..2147483647)");
  EXPECT_EQ(refused("lowmem_reserve_ratio", "1 0x80000000"),
            "'0x80000000' is out of range (-2147483648..2147483647)");
  EXPECT_EQ(refused("percpu_pagelist_high_fraction", "-1"), "'-1' is out of range (0..2147483647)");
  EXPECT_EQ(refused("percpu_pagelist_high_fraction", "7"), "'7': must be 0 or at least 8");
  EXPECT_EQ(vm_sysctl_rule("dirty_ratio"), nullptr);
}

// The machine's door (the socket's and the control file's sysctl) and the
// command line's use that parser: the same message, nothing changed.
TEST(SysctlParse, EveryDoorSaysTheSame) {
  MEMD_BOOT(m, test::machines::pc_256m());
  auto st = m.set_sysctl("min_free_kbytes", "99999999999999");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "min_free_kbytes=99999999999999: '99999999999999' is out of range (0..2147483647)");
  EXPECT_EQ(m.min_free_kbytes(), 2043);
  st = m.set_sysctl("lowmem_reserve_ratio", "1,2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "lowmem_reserve_ratio=1,2: '1,2' is not an integer (the kernel reads integers "
            "separated by spaces, tabs or newlines)");
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{256, 256, 32, 0, 0}));
  st = m.set_sysctl("lowmem_reserve_ratio", "1 2 3 4 5 6");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "lowmem_reserve_ratio=1 2 3 4 5 6: 6 ratios for 5 zones");

  auto kp = parse_kernel_cmdline("sysctl.vm.min_free_kbytes=99999999999999");
  ASSERT_FALSE(kp.ok());
  EXPECT_EQ(kp.error().message,
            "sysctl.vm.min_free_kbytes=99999999999999: '99999999999999' is out of range "
            "(0..2147483647)");
  kp = parse_kernel_cmdline("sysctl.vm.lowmem_reserve_ratio=1,2");
  ASSERT_FALSE(kp.ok());
  EXPECT_EQ(kp.error().message,
            "sysctl.vm.lowmem_reserve_ratio=1,2: '1,2' is not an integer (the kernel reads "
            "integers separated by spaces, tabs or newlines); on the command line, separate "
            "values with spaces inside double quotes, e.g. "
            "sysctl.vm.lowmem_reserve_ratio=\"256 256 32 0 0\"");
  kp = parse_kernel_cmdline("sysctl.vm.watermark_scale_factor=\" 0x64 \"");
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  EXPECT_EQ(kp->watermark_scale_factor, 100);
}

}  // namespace
}  // namespace memd
