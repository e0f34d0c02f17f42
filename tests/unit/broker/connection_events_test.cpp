// Which closes in one monitor drain may belong to a connection whose fd was reused at once.
#include "broker/connection_events.h"

#include <gtest/gtest.h>

namespace mandrill::broker {
namespace {

constexpr auto kAccepted = ConnectionEvent::kAccepted;
constexpr auto kClosed = ConnectionEvent::kClosed;

TEST(ConnectionEventsTest, ACloseIsAmbiguousOnlyWhenItsFdIsAcceptedAgainLaterInTheDrain) {
  EXPECT_EQ(ClosesOf({}), std::vector<ConnectionClose>{});
  EXPECT_EQ(ClosesOf({{kClosed, 7}}), (std::vector<ConnectionClose>{{7, false}}));
  EXPECT_EQ(ClosesOf({{kClosed, 7}, {kAccepted, 7}}), (std::vector<ConnectionClose>{{7, true}}));
  // Accepted before it closed: that connection is the one that closed.
  EXPECT_EQ(ClosesOf({{kAccepted, 7}, {kClosed, 7}}), (std::vector<ConnectionClose>{{7, false}}));
  // Another fd's accept says nothing about fd 7.
  EXPECT_EQ(ClosesOf({{kClosed, 7}, {kAccepted, 8}}), (std::vector<ConnectionClose>{{7, false}}));
}

TEST(ConnectionEventsTest, ClosesKeepTheirOrderAndEachIsJudgedByWhatFollowsIt) {
  const std::vector<ConnectionEvent> drain = {{kClosed, 7},   {kAccepted, 7}, {kClosed, 8},
                                              {kClosed, 7},   {kAccepted, 9}, {kClosed, 9},
                                              {kAccepted, 8}};
  EXPECT_EQ(ClosesOf(drain), (std::vector<ConnectionClose>{
                                 {7, true}, {8, true}, {7, false}, {9, false}}));
}

}  // namespace
}  // namespace mandrill::broker
