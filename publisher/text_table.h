#pragma once
// Aligned plain-text tables for mandrill-ctl: a header row, then rows; each column as wide as
// its widest cell, two spaces between columns, numeric columns right-aligned. Cells must be
// printable (callers escape payload bytes first, see PrintableText()).
#include <string>
#include <string_view>
#include <vector>

namespace mandrill::publisher {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // A row with one cell per column (missing cells are empty, extra ones dropped).
  void AddRow(std::vector<std::string> cells);
  // The table, each line ending in '\n', trailing spaces trimmed.
  std::string Render() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// `bytes` with anything outside printable ASCII shown as \xNN (and backslash as \\),
// cut after `max_chars` characters and marked with "..." when longer.
std::string PrintableText(std::string_view bytes, std::size_t max_chars);

}  // namespace mandrill::publisher
