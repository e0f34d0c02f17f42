#include "shared/cells/cell_map.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mandrill::cells {
namespace {

TEST(CellMapTest, ParsesCellsWithCommentsAndBlankLines) {
  auto map = ParseCellMap(
      "# the fleet\n"
      "cell-1 tcp://10.0.0.1:5555\n"
      "\n"
      "  cell-2\ttcp://broker-2.mandrill:5555   # second rack\n",
      "cells.txt");
  ASSERT_TRUE(map.ok()) << map.error().message;
  ASSERT_EQ(map->cells.size(), 2u);
  EXPECT_EQ(map->cells[0], (Cell{"cell-1", "tcp://10.0.0.1:5555", ""}));
  EXPECT_EQ(map->cells[1], (Cell{"cell-2", "tcp://broker-2.mandrill:5555", ""}));
  EXPECT_FALSE(map->secured());
}

TEST(CellMapTest, KeyFilesAreAllOrNothing) {
  auto map = ParseCellMap("a tcp://h1:1 /keys/a.pub\nb tcp://h2:1 /keys/b.pub\n", "m");
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_TRUE(map->secured());
  EXPECT_EQ(map->cells[1].public_key_file, "/keys/b.pub");
  auto mixed = ParseCellMap("a tcp://h1:1 /keys/a.pub\nb tcp://h2:1\n", "m");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message.find("m line 2: cell b names no public key file"),
            std::string::npos)
      << mixed.error().message;
}

TEST(CellMapTest, BadLinesAreRefusedWithTheirLineNumber) {
  const struct {
    const char* text;
    const char* says;
  } cases[] = {
      {"a\n", "line 1: expected NAME ENDPOINT [PUBLIC_KEY_FILE], got 1 fields"},
      {"a tcp://h:1 k extra\n", "line 1: expected NAME ENDPOINT"},
      {"ok tcp://h:1\nb@d tcp://h:2\n", "line 2: cell name 'b@d'"},
      {"a http://h:1\n", "line 1: cell a:"},
      {"a tcp://*:5555\n", "is a bind address"},
      {"a tcp://h:1\na tcp://h:2\n", "line 2: cell a is listed twice"},
      {"a tcp://h:1\nb tcp://h:1\n", "line 2: endpoint tcp://h:1 is listed for two cells"},
      {"# nothing\n\n", "lists no cells"},
  };
  for (const auto& c : cases) {
    auto map = ParseCellMap(c.text, "cells.txt");
    ASSERT_FALSE(map.ok()) << c.text;
    EXPECT_EQ(map.error().code, core::Errc::kInvalidArgument);
    EXPECT_NE(map.error().message.find(c.says), std::string::npos)
        << "'" << c.text << "' -> " << map.error().message;
  }
}

TEST(CellMapTest, ReadsAFileAndNamesAMissingOne) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("mandrill-cells-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(path) << "c1 tcp://127.0.0.1:7001\nc2 tcp://127.0.0.1:7002\n";
  auto map = ReadCellMap(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->cells.size(), 2u);
  auto missing = ReadCellMap(path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, core::Errc::kIo);
  EXPECT_NE(missing.error().message.find(path.string()), std::string::npos);
}

}  // namespace
}  // namespace mandrill::cells
