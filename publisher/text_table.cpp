#include "publisher/text_table.h"

#include <algorithm>

namespace mandrill::publisher {

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render() const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].title.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](auto cell_of) {
    std::string l;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      if (c > 0) l.append(2, ' ');
      const std::size_t pad = width[c] - cell.size();
      if (columns_[c].align == Align::kRight) l.append(pad, ' ');
      l.append(cell);
      if (columns_[c].align == Align::kLeft) l.append(pad, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out.append(l);
    out.push_back('\n');
  };
  line([&](std::size_t c) -> const std::string& { return columns_[c].title; });
  for (const auto& row : rows_) {
    line([&](std::size_t c) -> const std::string& { return row[c]; });
  }
  return out;
}

std::string PrintableText(std::string_view bytes, std::size_t max_chars) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    std::string piece;
    if (c == '\\') {
      piece = "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      piece.assign(1, ch);
    } else {
      piece = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
    if (out.size() + piece.size() > max_chars) {
      out.append("...");
      return out;
    }
    out.append(piece);
  }
  return out;
}

}  // namespace mandrill::publisher
