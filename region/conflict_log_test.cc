#include "region/conflict_log.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace meridian {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "conflict_log_test.XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

ConflictRecord Record(int i, std::string table = "music") {
  ConflictRecord r;
  r.table = std::move(table);
  r.key = {{"pk", AttributeValue::S("key-" + std::to_string(i))}, {"sk", AttributeValue::N(Decimal::Parse("7").value())}};
  r.loser = {{{"eu-west", 3}, {"us-east", 5}}, 1000, "eu-west"};
  r.winner = {{{"eu-west", 2}, {"us-east", 6}}, 1001, "us-east"};
  r.loser_was_delete = i % 2 == 1;
  r.time_ms = 1714566896789 + i;  // 2024-05-01T12:34:56.789Z
  return r;
}

std::vector<std::string> Lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every line of every file, oldest file first.
std::vector<std::string> AllLines(const ConflictLog& log) {
  std::vector<std::string> all;
  for (int n = log.max_files() - 1; n >= 0; --n) {
    for (auto& line : Lines(log.file_path(n))) all.push_back(std::move(line));
  }
  return all;
}

TEST(ConflictLogTest, FormatsIso8601Utc) {
  EXPECT_EQ(FormatIso8601Utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601Utc(1714566896789), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(FormatIso8601Utc(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601Utc(951782400000), "2000-02-29T00:00:00.000Z");
}

TEST(ConflictLogTest, WritesOneJsonLinePerConflict) {
  TempDir dir;
  ConflictLog log(dir.path() / "sub" / "dir");  // created on first use
  EXPECT_FALSE(fs::exists(log.file_path()));
  log.Append(Record(0));
  log.Append(Record(1, "other"));
  ASSERT_TRUE(log.status().ok()) << log.status().ToString();
  std::vector<std::string> lines = Lines(log.file_path());
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first, nlohmann::json::parse(R"({
      "time":"2024-05-01T12:34:56.789Z","table":"music","key":{"pk":{"S":"key-0"},"sk":{"N":"7"}},
      "loser":{"vv":{"eu-west":3,"us-east":5},"hlc":1000,"origin":"eu-west"},
      "winner":{"vv":{"eu-west":2,"us-east":6},"hlc":1001,"origin":"us-east"},
      "loser_was_delete":false})"));
  // Fields in a fixed order, time first, so the file reads well.
  EXPECT_EQ(lines[0].rfind(R"({"time":"2024-05-01T12:34:56.789Z","table":"music","key":)", 0), 0u) << lines[0];
  nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["table"], "other");
  EXPECT_EQ(second["loser_was_delete"], true);
  EXPECT_EQ(second["time"], "2024-05-01T12:34:56.790Z");
  ConflictLogStats stats = log.stats();
  EXPECT_EQ(stats.appended, 2u);
  EXPECT_EQ(stats.io_errors, 0u);
  EXPECT_EQ(stats.rotations, 0u);
}

TEST(ConflictLogTest, TimeZeroTakesTheWallClockAndHostileStringsStillWrite) {
  TempDir dir;
  ConflictLog log(dir.path());
  ConflictRecord r = Record(0, "t");
  r.time_ms = 0;
  r.key = {{"pk", AttributeValue::S(std::string("bad \xff\xfe utf-8 \n\"quoted\"", 22))}};
  log.Append(r);
  ASSERT_TRUE(log.status().ok()) << log.status().ToString();
  std::vector<std::string> lines = Lines(log.file_path());
  ASSERT_EQ(lines.size(), 1u) << "a newline inside a key must be escaped, not split the line";
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  ASSERT_TRUE(j["time"].is_string());
  EXPECT_GE(j["time"].get<std::string>(), "2024-") << j["time"];
  EXPECT_EQ(j["time"].get<std::string>().back(), 'Z');
  EXPECT_NE(j["key"]["pk"]["S"].get<std::string>().find("\"quoted\""), std::string::npos);
  EXPECT_TRUE(ConflictRecordToJson(r)["time"].is_null());
}

TEST(ConflictLogTest, RotatesWithinTheBoundsAndDropsTheOldest) {
  TempDir dir;
  const size_t line_bytes = ConflictRecordToJson(Record(0)).dump().size() + 1;
  const size_t max_bytes = 3 * line_bytes + line_bytes / 2;  // three lines per file
  const int max_files = 3;
  ConflictLog log(dir.path(), max_bytes, max_files);
  const int total = 40;
  for (int i = 0; i < total; ++i) {
    log.Append(Record(i));
    // The bounds hold after every append, not only at the end.
    for (int n = 0; n < max_files; ++n) {
      if (fs::exists(log.file_path(n))) {
        EXPECT_LE(fs::file_size(log.file_path(n)), max_bytes) << "file " << n;
      }
    }
    EXPECT_FALSE(fs::exists(log.file_path(max_files))) << "more than " << max_files << " files after " << i;
  }
  ASSERT_TRUE(log.status().ok()) << log.status().ToString();
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename().string().rfind("conflicts.log", 0), 0u) << entry.path();
  }
  EXPECT_EQ(files, static_cast<size_t>(max_files));

  // What is kept is the newest lines, in order, with nothing torn: 3 full files of 3 lines, the
  // current one holding what came after the last rotation.
  std::vector<std::string> all = AllLines(log);
  const size_t current = Lines(log.file_path(0)).size();
  ASSERT_GE(current, 1u);
  EXPECT_EQ(all.size(), 2 * 3 + current);
  for (size_t i = 0; i < all.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(all[i]);
    int expected = total - static_cast<int>(all.size()) + static_cast<int>(i);
    EXPECT_EQ(j["key"]["pk"]["S"], "key-" + std::to_string(expected)) << i;
  }
  ConflictLogStats stats = log.stats();
  EXPECT_EQ(stats.appended, static_cast<uint64_t>(total));
  EXPECT_EQ(stats.rotations, static_cast<uint64_t>((total - current) / 3));
}

TEST(ConflictLogTest, OneFileAloneIsEmptiedWhenFull) {
  TempDir dir;
  const size_t line_bytes = ConflictRecordToJson(Record(0)).dump().size() + 1;
  ConflictLog log(dir.path(), 2 * line_bytes, 0);  // 0 files is taken as 1
  EXPECT_EQ(log.max_files(), 1);
  for (int i = 0; i < 5; ++i) log.Append(Record(i));
  EXPECT_FALSE(fs::exists(log.file_path(1)));
  std::vector<std::string> lines = Lines(log.file_path());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["key"]["pk"]["S"], "key-4");
}

TEST(ConflictLogTest, ALineLongerThanTheBoundGoesAloneIntoAFreshFile) {
  TempDir dir;
  ConflictLog log(dir.path(), 100, 2);
  log.Append(Record(0));
  log.Append(Record(1));
  ASSERT_TRUE(log.status().ok());
  EXPECT_EQ(Lines(log.file_path(0)).size(), 1u);
  EXPECT_EQ(Lines(log.file_path(1)).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(Lines(log.file_path(0))[0])["key"]["pk"]["S"], "key-1");
}

TEST(ConflictLogTest, ResumesAnExistingFileAndRepairsATornLine) {
  TempDir dir;
  const size_t line_bytes = ConflictRecordToJson(Record(0)).dump().size() + 1;
  {
    std::ofstream out(dir.path() / "conflicts.log");
    out << R"({"time":"torn)";  // a crash in the middle of a line
  }
  ConflictLog log(dir.path(), 10 * line_bytes, 2);
  log.Append(Record(0));
  std::vector<std::string> lines = Lines(log.file_path());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], R"({"time":"torn)");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["key"]["pk"]["S"], "key-0");
  // The existing size counts toward the bound.
  for (int i = 1; i < 12; ++i) log.Append(Record(i));
  EXPECT_TRUE(fs::exists(log.file_path(1)));
  EXPECT_LE(fs::file_size(log.file_path(0)), 10 * line_bytes);
  EXPECT_LE(fs::file_size(log.file_path(1)), 10 * line_bytes);
}

TEST(ConflictLogTest, AnUncreatableFolderIsCountedNotThrown) {
  TempDir dir;
  std::ofstream(dir.path() / "plain-file") << "x";
  // A folder under a regular file cannot be created, even by root.
  ConflictLog log(dir.path() / "plain-file" / "log");
  log.Append(Record(0));
  log.Append(Record(1));
  ConflictLogStats stats = log.stats();
  EXPECT_EQ(stats.appended, 0u);
  EXPECT_EQ(stats.io_errors, 2u);
  EXPECT_EQ(stats.lost, 2u);
  EXPECT_NE(stats.last_error.find("cannot create"), std::string::npos) << stats.last_error;
  Status st = log.status();
  EXPECT_EQ(st.code(), ErrorCode::kInternalServerError);
  EXPECT_NE(st.message().find("2 IO error(s)"), std::string::npos) << st.message();
}

TEST(ConflictLogTest, AFullDiskIsCountedAndTheNextAppendTriesAgain) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  // conflicts.log is /dev/full: opening works, every write fails with ENOSPC.
  fs::create_symlink("/dev/full", dir.path() / "conflicts.log");
  ConflictLog log(dir.path());
  log.Append(Record(0));
  log.Append(Record(1));
  ConflictLogStats stats = log.stats();
  EXPECT_EQ(stats.appended, 0u);
  EXPECT_EQ(stats.io_errors, 2u);
  EXPECT_NE(stats.last_error.find("cannot write"), std::string::npos) << stats.last_error;
  EXPECT_FALSE(log.status().ok());

  // The disk "recovers": the next append reopens and writes.
  fs::remove(dir.path() / "conflicts.log");
  log.Append(Record(2));
  EXPECT_EQ(log.stats().appended, 1u);
  ASSERT_EQ(Lines(log.file_path()).size(), 1u);
  EXPECT_EQ(log.stats().io_errors, 2u) << "errors stay counted";
}

TEST(ConflictLogTest, ConcurrentAppendsKeepLinesWholeAndWithinBounds) {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("MERIDIAN_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::cout << "seed=" << seed << "\n";
  SCOPED_TRACE("seed=" + std::to_string(seed));
  TempDir dir;
  const size_t max_bytes = 4096;
  const int max_files = 4;
  ConflictLog log(dir.path(), max_bytes, max_files);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t, seed] {
      std::mt19937_64 rng(seed + t);
      for (int i = 0; i < 300; ++i) {
        ConflictRecord r = Record(t * 1000 + i, "table-" + std::to_string(t));
        // Keys of random length, so lines and rotation points vary.
        r.key["pad"] = AttributeValue::S(std::string(rng() % 200, 'x'));
        log.Append(r);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(log.status().ok()) << log.status().ToString();
  EXPECT_EQ(log.stats().appended, 1200u);
  for (int n = 0; n < max_files; ++n) {
    ASSERT_TRUE(fs::exists(log.file_path(n))) << n;
    EXPECT_LE(fs::file_size(log.file_path(n)), max_bytes);
  }
  EXPECT_FALSE(fs::exists(log.file_path(max_files)));
  // Lines are whole, and each thread's kept lines are in its own order.
  std::vector<int> last(4, -1);
  for (const std::string& line : AllLines(log)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    int id = std::stoi(j["key"]["pk"]["S"].get<std::string>().substr(4));
    int t = id / 1000;
    EXPECT_GT(id % 1000, last[t]);
    last[t] = id % 1000;
  }
  EXPECT_GT(*std::max_element(last.begin(), last.end()), -1);
}

}  // namespace
}  // namespace meridian
