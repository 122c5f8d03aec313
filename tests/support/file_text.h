// A file's text, whole or by line, for tests that read what a child wrote.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::testing {

inline std::string ReadFile(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace sluice::testing
