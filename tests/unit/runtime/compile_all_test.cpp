// Every public header compiles on its own and together.
#include "shared/runtime/runtime.h"

#include <gtest/gtest.h>

TEST(RuntimeHeadersTest, Compile) { SUCCEED(); }
