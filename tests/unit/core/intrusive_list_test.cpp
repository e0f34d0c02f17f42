// IntrusiveList: a list threaded through its elements (the broker's and the runtime's one list).
#include "shared/core/intrusive_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace mandrill::core {
namespace {

struct HookA : ListHook {};
struct HookB : ListHook {};
struct Item : HookA, HookB {
  int value = 0;
};
using ListA = IntrusiveList<Item, HookA>;
using ListB = IntrusiveList<Item, HookB>;

// The values in list order; also checks that every prev link mirrors the next link before it
// (the first element's prev is the list's own head).
template <class Hook>
std::vector<int> Values(const IntrusiveList<Item, Hook>& list) {
  std::vector<int> out;
  const ListHook* prev = nullptr;
  list.ForEach([&](Item* i) {
    const Hook* h = i;
    if (prev != nullptr) {
      EXPECT_EQ(h->prev, prev) << "at " << i->value;
    }
    EXPECT_TRUE(h->linked());
    EXPECT_EQ(h->prev->next, h) << "at " << i->value;
    prev = h;
    out.push_back(i->value);
  });
  EXPECT_EQ(out.size(), list.size());
  return out;
}

class IntrusiveListTest : public ::testing::Test {
 protected:
  IntrusiveListTest() {
    for (int i = 0; i < 5; ++i) items_[i].value = i;
  }
  void PushAll() {
    for (auto& i : items_) list_.PushBack(&i);
  }
  Item items_[5];
  ListA list_;
};

TEST_F(IntrusiveListTest, PushBackKeepsInsertionOrder) {
  EXPECT_TRUE(list_.empty());
  EXPECT_EQ(list_.Front(), nullptr);
  PushAll();
  EXPECT_EQ(list_.size(), 5u);
  EXPECT_EQ(list_.Front(), &items_[0]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(list_.Next(&items_[4]), nullptr);
}

TEST_F(IntrusiveListTest, RemoveAtHead) {
  PushAll();
  list_.Remove(&items_[0]);
  EXPECT_EQ(list_.Front(), &items_[1]);
  EXPECT_EQ(Values(list_), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_FALSE(static_cast<HookA&>(items_[0]).linked());
}

TEST_F(IntrusiveListTest, RemoveInTheMiddle) {
  PushAll();
  list_.Remove(&items_[2]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 3, 4}));
  EXPECT_EQ(list_.Next(&items_[1]), &items_[3]);
  EXPECT_EQ(static_cast<HookA&>(items_[3]).prev, static_cast<HookA*>(&items_[1]));
}

TEST_F(IntrusiveListTest, RemoveAtTailThenPushBackAppendsAfterTheNewTail) {
  PushAll();
  list_.Remove(&items_[4]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(list_.Next(&items_[3]), nullptr);
  list_.PushBack(&items_[4]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(IntrusiveListTest, RemovingEveryElementLeavesAnEmptyReusableList) {
  PushAll();
  for (auto& i : items_) list_.Remove(&i);
  EXPECT_TRUE(list_.empty());
  EXPECT_EQ(list_.Front(), nullptr);
  list_.PushBack(&items_[3]);
  EXPECT_EQ(Values(list_), (std::vector<int>{3}));
}

TEST_F(IntrusiveListTest, ForEachToleratesRemovingTheCurrentElement) {
  PushAll();
  std::vector<int> seen;
  list_.ForEach([&](Item* i) {
    seen.push_back(i->value);
    if (i->value % 2 == 0) list_.Remove(i);
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Values(list_), (std::vector<int>{1, 3}));
  EXPECT_EQ(list_.size(), 2u);
}

TEST_F(IntrusiveListTest, ForEachToleratesRemovingEveryElement) {
  PushAll();
  int visited = 0;
  list_.ForEach([&](Item* i) {
    ++visited;
    list_.Remove(i);
  });
  EXPECT_EQ(visited, 5);
  EXPECT_TRUE(list_.empty());
}

TEST_F(IntrusiveListTest, AnElementCanBeOnTwoListsIndependently) {
  ListB other;
  PushAll();
  other.PushBack(&items_[3]);
  other.PushBack(&items_[1]);
  list_.Remove(&items_[3]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 4}));
  EXPECT_EQ(Values(other), (std::vector<int>{3, 1}));
  other.Remove(&items_[1]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 4}));
  EXPECT_EQ(Values(other), (std::vector<int>{3}));
}

TEST_F(IntrusiveListTest, PushFrontAndPopFrontMakeADeque) {
  list_.PushBack(&items_[1]);
  list_.PushFront(&items_[0]);
  list_.PushBack(&items_[2]);
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(list_.Back(), &items_[2]);
  EXPECT_EQ(list_.PopFront(), &items_[0]);
  EXPECT_EQ(list_.PopFront(), &items_[1]);
  EXPECT_EQ(list_.PopFront(), &items_[2]);
  EXPECT_EQ(list_.PopFront(), nullptr);
  EXPECT_TRUE(list_.empty());
}

TEST_F(IntrusiveListTest, MoveToBackReordersAndRemovingAnUnlinkedElementIsANoOp) {
  PushAll();
  list_.MoveToBack(&items_[0]);
  EXPECT_EQ(Values(list_), (std::vector<int>{1, 2, 3, 4, 0}));
  list_.Remove(&items_[2]);
  list_.Remove(&items_[2]);
  EXPECT_EQ(Values(list_), (std::vector<int>{1, 3, 4, 0}));
  list_.MoveToBack(&items_[2]);  // not linked: simply appended
  EXPECT_EQ(Values(list_), (std::vector<int>{1, 3, 4, 0, 2}));
}

// The runtime's lease keeper keeps its list sorted by walking back from the end (Prev) and
// linking after the element it stopped at (InsertAfter; null: at the front).
TEST_F(IntrusiveListTest, InsertAfterAndPrevKeepASortedList) {
  list_.PushBack(&items_[1]);
  list_.PushBack(&items_[3]);
  list_.InsertAfter(&items_[3], &items_[4]);  // at the back
  list_.InsertAfter(&items_[1], &items_[2]);  // in the middle
  list_.InsertAfter(nullptr, &items_[0]);     // at the front
  EXPECT_EQ(Values(list_), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(list_.Prev(&items_[0]), nullptr);
  EXPECT_EQ(list_.Prev(&items_[3]), &items_[2]);
  EXPECT_EQ(list_.Back(), &items_[4]);
  EXPECT_EQ(list_.Next(&items_[4]), nullptr);
}

}  // namespace
}  // namespace mandrill::core
