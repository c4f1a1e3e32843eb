#include "bench/bench_report.h"

#include <gtest/gtest.h>

namespace meridian::bench {
namespace {

const char kDoc[] =
    "# Benchmarks\n\nintro\n\n<!-- section: foundation -->\nfoundation text\n<!-- end: foundation -->\n\n"
    "<!-- section: bench -->\nold bench\n<!-- end: bench -->\n\n<!-- section: global -->\nglobal text\n"
    "<!-- end: global -->\n";

TEST(ReplaceSection, RewritesOnlyItsOwnSection) {
  std::string out = ReplaceSection(kDoc, "bench", "new bench\n");
  EXPECT_EQ(out,
            "# Benchmarks\n\nintro\n\n<!-- section: foundation -->\nfoundation text\n<!-- end: foundation -->\n\n"
            "<!-- section: bench -->\nnew bench\n<!-- end: bench -->\n\n<!-- section: global -->\nglobal text\n"
            "<!-- end: global -->\n");
  // Idempotent: the same body again changes nothing.
  EXPECT_EQ(ReplaceSection(out, "bench", "new bench\n"), out);
}

TEST(ReplaceSection, AppendsTheSectionWhenMissing) {
  std::string doc = "# Benchmarks\n\n<!-- section: global -->\ng\n<!-- end: global -->\n";
  std::string out = ReplaceSection(doc, "bench", "b");
  EXPECT_EQ(out, doc + "\n<!-- section: bench -->\nb\n<!-- end: bench -->\n");
  EXPECT_EQ(ReplaceSection(out, "bench", "c"), doc + "\n<!-- section: bench -->\nc\n<!-- end: bench -->\n");
}

TEST(ReplaceSection, DoesNotTakeAnotherSectionsEndMarker) {
  std::string doc = "<!-- section: benchmarks -->\nx\n<!-- end: benchmarks -->\n";
  std::string out = ReplaceSection(doc, "bench", "b");
  EXPECT_EQ(out.substr(0, doc.size()), doc);
}

TEST(Thousands, GroupsDigits) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1234567.4), "1,234,567");
  EXPECT_EQ(Thousands(-1234), "-1,234");
}

}  // namespace
}  // namespace meridian::bench
