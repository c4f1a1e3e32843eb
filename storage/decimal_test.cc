#include "storage/decimal.h"

#include <gtest/gtest.h>

namespace meridian {
namespace {

TEST(DecimalTest, ParsesAndPrintsCanonically) {
  EXPECT_EQ(Decimal::Parse("1E+2")->ToString(), "100");
}

}  // namespace
}  // namespace meridian
