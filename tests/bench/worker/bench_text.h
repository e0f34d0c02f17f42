#pragma once
// Small helpers worker_bench uses to read logs and print its rounds.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mandrill::bench {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The middle value (the upper one of an even count); 0 for none.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The values times `scale`, rounded, space-separated.
inline std::string Join(const std::vector<double>& v, double scale) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : " ") + std::to_string(std::lround(x * scale));
  return out;
}

}  // namespace mandrill::bench
