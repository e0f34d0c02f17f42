// DeferredSet: nacked-with-delay messages of every queue in one heap on (due, seq).
#include "broker/deferred_set.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace mandrill::broker {
namespace {

using namespace std::chrono_literals;

class DeferredSetTest : public ::testing::Test {
 protected:
  ~DeferredSetTest() override {
    for (Message* m : out_) FreeMessage(m);
  }
  Message* Msg(const std::string& id, std::uint64_t seq) {
    return NewMessage(seq, id, "", "", 0);
  }
  std::vector<std::string> PopAllDue(core::SteadyTime now) {
    std::vector<std::string> ids;
    while (Message* m = set_.PopDue(now)) {
      ids.emplace_back(m->id());
      out_.push_back(m);
    }
    return ids;
  }

  DeferredSet set_;
  const core::SteadyTime t0_{std::chrono::hours(1)};
  std::vector<Message*> out_;
};

TEST_F(DeferredSetTest, OnlyMessagesWhoseTimeHasComeAreDue) {
  Message* a = Msg("a", 1);
  set_.Add(a, t0_ + 100ms);
  set_.Add(Msg("b", 2), t0_ + 200ms);
  EXPECT_EQ(a->state, MessageState::kDeferred);
  EXPECT_EQ(set_.size(), 2u);
  EXPECT_EQ(set_.NextDue(), t0_ + 100ms);
  EXPECT_TRUE(PopAllDue(t0_ + 99ms).empty());
  EXPECT_EQ(PopAllDue(t0_ + 100ms), (std::vector<std::string>{"a"})) << "due exactly then";
  EXPECT_EQ(set_.NextDue(), t0_ + 200ms);
  EXPECT_EQ(PopAllDue(t0_ + 1h), (std::vector<std::string>{"b"}));
  EXPECT_FALSE(set_.NextDue().has_value());
}

TEST_F(DeferredSetTest, DueInTimeThenSeqOrderWhateverTheOrderAdded) {
  set_.Add(Msg("d", 4), t0_ + 400ms);
  set_.Add(Msg("b", 2), t0_ + 200ms);
  set_.Add(Msg("c", 3), t0_ + 200ms);
  set_.Add(Msg("a", 1), t0_ + 100ms);
  EXPECT_EQ(PopAllDue(t0_ + 1s), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(set_.size(), 0u);
}

TEST_F(DeferredSetTest, WhatIsLeftIsFreedWithTheSet) {
  // Run under ASan: a leak here fails the test.
  set_.Add(Msg("x", 1), t0_ + 1h);
  EXPECT_EQ(set_.size(), 1u);
}

}  // namespace
}  // namespace mandrill::broker
