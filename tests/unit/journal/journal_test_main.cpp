#include <gtest/gtest.h>

#include "tests/unit/journal/journal_test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  mandrill::broker::journal::testing::InstallCapturingLogger();
  return RUN_ALL_TESTS();
}
