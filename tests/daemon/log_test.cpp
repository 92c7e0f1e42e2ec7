// The log's pieces without a clock: the journal fields of one message, the
// message ids, the rate limit at given instants, the line a command gets and
// which commands change the machine, refused connections past the limit.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "daemon/command.h"
#include "daemon/command_log.h"
#include "daemon/log.h"

namespace memd {
namespace {

using namespace std::chrono_literals;

TEST(LogTest, JournalFieldsNameThePriorityTheEventAndThePeer) {
  EXPECT_EQ(log::journal_fields(log::Level::kNotice, "uid 1000 pid 42 (memctl): reset: ok",
                                log::Event::kCommand, log::Peer{1000, 42}),
            (std::vector<std::string>{"MESSAGE=uid 1000 pid 42 (memctl): reset: ok", "PRIORITY=5",
                                      "MESSAGE_ID=6fb5ab7f013344f29cbdc60b0a52a170",
                                      "SYSLOG_IDENTIFIER=memd", "MEMD_CLIENT_UID=1000",
                                      "MEMD_CLIENT_PID=42"}));
  EXPECT_EQ(log::journal_fields(log::Level::kErr, "gone", log::Event::kGeneral, std::nullopt),
            (std::vector<std::string>{"MESSAGE=gone", "PRIORITY=3",
                                      "MESSAGE_ID=0b2875d2da444c3cae1ce4dd1030715a",
                                      "SYSLOG_IDENTIFIER=memd"}));
}

TEST(LogTest, EachEventHasItsOwn128BitMessageId) {
  std::set<std::string_view> ids;
  for (auto e : {log::Event::kGeneral, log::Event::kCommand, log::Event::kRead, log::Event::kFailed,
                 log::Event::kRefused, log::Event::kSuppressed}) {
    const std::string_view id = log::message_id(e);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string_view::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 6u);
}

TEST(LogTest, TheRateLimitAdmitsNASecond) {
  RateLimit limit(3);
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  EXPECT_TRUE(limit.admit(t0));
  EXPECT_TRUE(limit.admit(t0 + 100ms));
  EXPECT_TRUE(limit.admit(t0 + 200ms));
  EXPECT_FALSE(limit.admit(t0 + 300ms));
  EXPECT_FALSE(limit.admit(t0 + 999ms));
  EXPECT_TRUE(limit.admit(t0 + 1000ms));  // a new second from here
  EXPECT_TRUE(limit.admit(t0 + 1100ms));
  EXPECT_TRUE(limit.admit(t0 + 1900ms));
  EXPECT_FALSE(limit.admit(t0 + 1999ms));
  EXPECT_TRUE(limit.admit(t0 + 2000ms));
}

// Refused connections share the commands' limit: past it they are counted,
// and the count is one summary, taken once.
TEST(LogTest, RefusedConnectionsAreCountedPastTheLimitAndSummedUpOnce) {
  RateLimit limit(3);
  RefusalCount refusals;
  const auto t0 = std::chrono::steady_clock::time_point(100s);
  EXPECT_TRUE(limit.admit(t0));  // a command's line
  EXPECT_TRUE(refusals.admit(&limit, t0 + 100ms));
  EXPECT_TRUE(refusals.admit(&limit, t0 + 200ms));
  EXPECT_EQ(refusals.take_summary(), std::nullopt);  // none counted yet
  EXPECT_FALSE(refusals.admit(&limit, t0 + 300ms));
  EXPECT_FALSE(refusals.admit(&limit, t0 + 400ms));
  EXPECT_FALSE(limit.admit(t0 + 500ms));  // a command's line, over the limit too
  EXPECT_FALSE(refusals.admit(&limit, t0 + 999ms));
  EXPECT_TRUE(refusals.admit(&limit, t0 + 1000ms));  // a new second
  EXPECT_EQ(refusals.take_summary(),
            "3 more refused connections not logged (over 20 lines a second)");
  EXPECT_EQ(refusals.take_summary(), std::nullopt);
  EXPECT_TRUE(refusals.admit(&limit, t0 + 1001ms));
  EXPECT_TRUE(refusals.admit(&limit, t0 + 1002ms));
  EXPECT_FALSE(refusals.admit(&limit, t0 + 1003ms));
  EXPECT_EQ(refusals.take_summary(),
            "1 more refused connections not logged (over 20 lines a second)");
}

TEST(LogTest, ACommandsLineNamesThePeerTheCommandAndTheOutcome) {
  Client c;
  c.uid = 1000;
  c.pid = 4242;
  c.comm = "memctl";
  auto alloc = parse_command("alloc order=3 gfp=GFP_KERNEL");
  ASSERT_TRUE(alloc.ok());
  EXPECT_EQ(command_line(*alloc, c, Reply{}),
            "uid 1000 pid 4242 (memctl): alloc order=3 gfp=GFP_KERNEL: ok");
  EXPECT_EQ(command_line(*alloc, c, Reply::error(Failure::kAllocFailed, "no memory")),
            "uid 1000 pid 4242 (memctl): alloc order=3 gfp=GFP_KERNEL: error: no memory");
  std::string ids = "free";
  for (int i = 1; i <= 100; ++i)
    ids += " id=" + std::to_string(i);
  auto free = parse_command(ids);
  ASSERT_TRUE(free.ok());
  // "free id=1 ... id=100" is 596 bytes: cut at 200.
  EXPECT_EQ(command_line(*free, c, Reply{}),
            "uid 1000 pid 4242 (memctl): " + ids.substr(0, 200) + "... (596 bytes): ok");
}

TEST(LogTest, WhatChangesTheMachine) {
  for (const char* change :
       {"alloc order=0 gfp=GFP_KERNEL", "free id=1", "reset", "sysctl min_free_kbytes=4096",
        "replay begin", "replay end", "snapshot load bytes=10", "trace on all", "trace off",
        "trace clear", "trace buffer_size_kb=64"}) {
    auto c = parse_command(change);
    ASSERT_TRUE(c.ok()) << change;
    EXPECT_TRUE(changes_machine(*c)) << change;
  }
  for (const char* read : {"status", "show buddyinfo", "check", "help", "sysctl",
                           "sysctl min_free_kbytes", "snapshot save", "trace"}) {
    auto c = parse_command(read);
    ASSERT_TRUE(c.ok()) << read;
    EXPECT_FALSE(changes_machine(*c)) << read;
  }
}

}  // namespace
}  // namespace memd
