#include "shared/metrics/exposition.h"

#include <fmt/format.h>

#include <cmath>

namespace mandrill::metrics {
namespace {

void AppendEscaped(std::string& out, std::string_view v) {
  if (v.find_first_of("\\\"\n") == std::string_view::npos) {
    out += v;  // the usual case: nothing to escape
    return;
  }
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void AppendHelp(std::string& out, std::string_view help) {
  if (help.find_first_of("\\\n") == std::string_view::npos) {
    out += help;
    return;
  }
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

}  // namespace

void Exposition::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendHelp(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::Labels(std::initializer_list<Label> labels, const Label* extra) {
  if (labels.size() == 0 && extra == nullptr) return;
  out_ += '{';
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    AppendEscaped(out_, l.second);
    out_ += '"';
  };
  for (const Label& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out_ += '}';
}

void Exposition::Sample(std::string_view name, std::initializer_list<Label> labels,
                        double value) {
  out_ += name;
  Labels(labels);
  out_ += ' ';
  AppendDouble(out_, value);
  out_ += '\n';
}

void Exposition::Sample(std::string_view name, std::initializer_list<Label> labels,
                        std::int64_t value) {
  out_ += name;
  Labels(labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", value);
}

void Exposition::Sample(std::string_view name, std::initializer_list<Label> labels,
                        std::uint64_t value) {
  out_ += name;
  Labels(labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", value);
}

void Exposition::Histogram(std::string_view name, std::initializer_list<Label> labels,
                           const HistogramData& h) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
    cumulative += i < h.counts.size() ? h.counts[i] : 0;
    le.clear();
    if (i < h.bounds.size()) {
      AppendDouble(le, h.bounds[i]);
    } else {
      le = "+Inf";
    }
    const Label bound{"le", le};
    out_ += name;
    out_ += "_bucket";
    Labels(labels, &bound);
    fmt::format_to(std::back_inserter(out_), " {}\n", cumulative);
  }
  out_ += name;
  out_ += "_sum";
  Labels(labels);
  out_ += ' ';
  AppendDouble(out_, h.sum);
  out_ += '\n';
  out_ += name;
  out_ += "_count";
  Labels(labels);
  fmt::format_to(std::back_inserter(out_), " {}\n", cumulative);
}

}  // namespace mandrill::metrics
