#include "broker/binlog/charsets.h"

#include <algorithm>
#include <iterator>

namespace sluice::binlog {
namespace {

struct Range {
  uint32_t first, last;
  const char* charset;
  uint8_t max_bytes;
};

// Collation ids to character sets, in id order: MariaDB 10.11's
// information_schema.COLLATIONS joined with CHARACTER_SETS (MAXLEN), plus
// the ids MySQL 8 adds (76 utf8mb3_tolower_ci, 255-323 the utf8mb4 _0900_
// collations of strings/ctype-uca.cc). Ids are the same on both servers
// where both have them.
// clang-format off (one collation range per line)
constexpr Range kRanges[] = {
    {1, 1, "big5", 2},           {2, 2, "latin2", 1},         {3, 3, "dec8", 1},
    {4, 4, "cp850", 1},          {5, 5, "latin1", 1},         {6, 6, "hp8", 1},
    {7, 7, "koi8r", 1},          {8, 8, "latin1", 1},         {9, 9, "latin2", 1},
    {10, 10, "swe7", 1},         {11, 11, "ascii", 1},        {12, 12, "ujis", 3},
    {13, 13, "sjis", 2},         {14, 14, "cp1251", 1},       {15, 15, "latin1", 1},
    {16, 16, "hebrew", 1},       {18, 18, "tis620", 1},       {19, 19, "euckr", 2},
    {20, 20, "latin7", 1},       {21, 21, "latin2", 1},       {22, 22, "koi8u", 1},
    {23, 23, "cp1251", 1},       {24, 24, "gb2312", 2},       {25, 25, "greek", 1},
    {26, 26, "cp1250", 1},       {27, 27, "latin2", 1},       {28, 28, "gbk", 2},
    {29, 29, "cp1257", 1},       {30, 30, "latin5", 1},       {31, 31, "latin1", 1},
    {32, 32, "armscii8", 1},     {33, 33, "utf8mb3", 3},      {34, 34, "cp1250", 1},
    {35, 35, "ucs2", 2},         {36, 36, "cp866", 1},        {37, 37, "keybcs2", 1},
    {38, 38, "macce", 1},        {39, 39, "macroman", 1},     {40, 40, "cp852", 1},
    {41, 42, "latin7", 1},       {43, 43, "macce", 1},        {44, 44, "cp1250", 1},
    {45, 46, "utf8mb4", 4},      {47, 49, "latin1", 1},       {50, 52, "cp1251", 1},
    {53, 53, "macroman", 1},     {54, 55, "utf16", 4},        {56, 56, "utf16le", 4},
    {57, 57, "cp1256", 1},       {58, 59, "cp1257", 1},       {60, 61, "utf32", 4},
    {62, 62, "utf16le", 4},      {63, 63, "binary", 1},       {64, 64, "armscii8", 1},
    {65, 65, "ascii", 1},        {66, 66, "cp1250", 1},       {67, 67, "cp1256", 1},
    {68, 68, "cp866", 1},        {69, 69, "dec8", 1},         {70, 70, "greek", 1},
    {71, 71, "hebrew", 1},       {72, 72, "hp8", 1},          {73, 73, "keybcs2", 1},
    {74, 74, "koi8r", 1},        {75, 75, "koi8u", 1},        {76, 76, "utf8mb3", 3},
    {77, 77, "latin2", 1},       {78, 78, "latin5", 1},       {79, 79, "latin7", 1},
    {80, 80, "cp850", 1},        {81, 81, "cp852", 1},        {82, 82, "swe7", 1},
    {83, 83, "utf8mb3", 3},      {84, 84, "big5", 2},         {85, 85, "euckr", 2},
    {86, 86, "gb2312", 2},       {87, 87, "gbk", 2},          {88, 88, "sjis", 2},
    {89, 89, "tis620", 1},       {90, 90, "ucs2", 2},         {91, 91, "ujis", 3},
    {92, 93, "geostd8", 1},      {94, 94, "latin1", 1},       {95, 96, "cp932", 2},
    {97, 98, "eucjpms", 3},      {99, 99, "cp1250", 1},       {101, 124, "utf16", 4},
    {128, 151, "ucs2", 2},       {159, 159, "ucs2", 2},       {160, 183, "utf32", 4},
    {192, 215, "utf8mb3", 3},    {223, 223, "utf8mb3", 3},    {224, 247, "utf8mb4", 4},
    {255, 323, "utf8mb4", 4},    {576, 578, "utf8mb3", 3},    {608, 610, "utf8mb4", 4},
    {640, 642, "ucs2", 2},       {672, 674, "utf16", 4},      {736, 738, "utf32", 4},
    {1025, 1025, "big5", 2},     {1027, 1027, "dec8", 1},     {1028, 1028, "cp850", 1},
    {1030, 1030, "hp8", 1},      {1031, 1031, "koi8r", 1},    {1032, 1032, "latin1", 1},
    {1033, 1033, "latin2", 1},   {1034, 1034, "swe7", 1},     {1035, 1035, "ascii", 1},
    {1036, 1036, "ujis", 3},     {1037, 1037, "sjis", 2},     {1040, 1040, "hebrew", 1},
    {1042, 1042, "tis620", 1},   {1043, 1043, "euckr", 2},    {1046, 1046, "koi8u", 1},
    {1048, 1048, "gb2312", 2},   {1049, 1049, "greek", 1},    {1050, 1050, "cp1250", 1},
    {1052, 1052, "gbk", 2},      {1054, 1054, "latin5", 1},   {1056, 1056, "armscii8", 1},
    {1057, 1057, "utf8mb3", 3},  {1059, 1059, "ucs2", 2},     {1060, 1060, "cp866", 1},
    {1061, 1061, "keybcs2", 1},  {1062, 1062, "macce", 1},    {1063, 1063, "macroman", 1},
    {1064, 1064, "cp852", 1},    {1065, 1065, "latin7", 1},   {1067, 1067, "macce", 1},
    {1069, 1070, "utf8mb4", 4},  {1071, 1071, "latin1", 1},   {1074, 1075, "cp1251", 1},
    {1077, 1077, "macroman", 1}, {1078, 1079, "utf16", 4},    {1080, 1080, "utf16le", 4},
    {1081, 1081, "cp1256", 1},   {1082, 1083, "cp1257", 1},   {1084, 1085, "utf32", 4},
    {1086, 1086, "utf16le", 4},  {1088, 1088, "armscii8", 1}, {1089, 1089, "ascii", 1},
    {1090, 1090, "cp1250", 1},   {1091, 1091, "cp1256", 1},   {1092, 1092, "cp866", 1},
    {1093, 1093, "dec8", 1},     {1094, 1094, "greek", 1},    {1095, 1095, "hebrew", 1},
    {1096, 1096, "hp8", 1},      {1097, 1097, "keybcs2", 1},  {1098, 1098, "koi8r", 1},
    {1099, 1099, "koi8u", 1},    {1101, 1101, "latin2", 1},   {1102, 1102, "latin5", 1},
    {1103, 1103, "latin7", 1},   {1104, 1104, "cp850", 1},    {1105, 1105, "cp852", 1},
    {1106, 1106, "swe7", 1},     {1107, 1107, "utf8mb3", 3},  {1108, 1108, "big5", 2},
    {1109, 1109, "euckr", 2},    {1110, 1110, "gb2312", 2},   {1111, 1111, "gbk", 2},
    {1112, 1112, "sjis", 2},     {1113, 1113, "tis620", 1},   {1114, 1114, "ucs2", 2},
    {1115, 1115, "ujis", 3},     {1116, 1117, "geostd8", 1},  {1119, 1120, "cp932", 2},
    {1121, 1122, "eucjpms", 3},  {1125, 1125, "utf16", 4},    {1147, 1147, "utf16", 4},
    {1152, 1152, "ucs2", 2},     {1174, 1174, "ucs2", 2},     {1184, 1184, "utf32", 4},
    {1206, 1206, "utf32", 4},    {1216, 1216, "utf8mb3", 3},  {1238, 1238, "utf8mb3", 3},
    {1248, 1248, "utf8mb4", 4},  {1270, 1270, "utf8mb4", 4},
};
// clang-format on

}  // namespace

std::optional<CharsetInfo> CharsetOfCollation(uint32_t collation) {
  auto it = std::upper_bound(std::begin(kRanges), std::end(kRanges), collation,
                             [](uint32_t id, const Range& r) { return id < r.first; });
  if (it == std::begin(kRanges)) return std::nullopt;
  --it;
  if (collation > it->last) return std::nullopt;
  return CharsetInfo{it->charset, it->max_bytes};
}

}  // namespace sluice::binlog
