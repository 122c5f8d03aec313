// ApplyJsonDiffs (json_binary.h): partial JSON updates. The before-image is
// kept in binary form except for the containers the diffs' paths go
// through, which are expanded into a small DOM; rendering falls back to the
// binary renderer for every subtree that no diff touched.
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "broker/binlog/json_binary.h"
#include "broker/binlog/json_binary_internal.h"

namespace sluice::binlog {
namespace {

using json_internal::BinaryValue;
using json_internal::Container;

enum class Op : uint8_t { kReplace = 0, kInsert = 1, kRemove = 2 };

const char* OpName(Op op) {
  switch (op) {
    case Op::kReplace: return "REPLACE";
    case Op::kInsert: return "INSERT";
    case Op::kRemove: return "REMOVE";
  }
  return "?";
}

struct Member;

// A value of the document being updated: still binary, or an expanded
// object or array whose children are Nodes.
struct Node {
  enum class Kind : uint8_t { kBinary, kObject, kArray };
  Kind kind = Kind::kBinary;
  BinaryValue binary;           // kBinary
  std::vector<Member> members;  // kObject, in MySQL's key order
  std::vector<Node> elements;   // kArray
};

struct Member {
  std::string key;
  Node value;
};

// MySQL's object key order (Json_key_comparator): shorter keys first, then
// bytewise.
bool KeyLess(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

Node FromBinaryDoc(std::string_view doc) {
  static constexpr char kNull[] = {json_internal::kLiteral, 0};
  Node n;
  if (doc.empty()) doc = std::string_view(kNull, 2);  // empty = JSON null
  n.binary = BinaryValue{static_cast<uint8_t>(doc[0]), doc.substr(1), doc};
  return n;
}

// Turns a binary object or array into an expanded one; other nodes stay.
// *budget caps the children expanded in all: a container's entries take 3
// bytes or more, so documents MySQL wrote never need more than their size,
// but containers whose values overlap could be expanded again and again.
Status Expand(Node* n, size_t* budget) {
  if (n->kind != Node::Kind::kBinary || !json_internal::IsContainer(n->binary.type)) {
    return Status::Ok();
  }
  Container c;
  SLUICE_RETURN_IF_ERROR(json_internal::ParseContainer(n->binary, &c));
  if (c.count > *budget) {
    return json_internal::Corrupt(c.doc, c.bytes,
                                  "containers overlap: expanding them for the diffs "
                                  "exceeds the document's size");
  }
  *budget -= c.count;
  std::vector<Member> members;
  std::vector<Node> elements;
  if (c.object) {
    members.resize(c.count);
  } else {
    elements.resize(c.count);
  }
  for (uint32_t i = 0; i < c.count; ++i) {
    Node& child = c.object ? members[i].value : elements[i];
    SLUICE_RETURN_IF_ERROR(json_internal::ContainerValue(c, i, &child.binary));
    if (c.object) {
      std::string_view key;
      SLUICE_RETURN_IF_ERROR(json_internal::ContainerKey(c, i, &key));
      members[i].key.assign(key);
    }
  }
  n->kind = c.object ? Node::Kind::kObject : Node::Kind::kArray;
  n->members = std::move(members);
  n->elements = std::move(elements);
  return Status::Ok();
}

Status Render(const Node& n, int depth, size_t max_out, std::string* out) {
  if (n.kind == Node::Kind::kBinary) {
    return json_internal::AppendValue(n.binary, depth, max_out, out);
  }
  if (depth >= json_internal::kMaxDepth) {
    return Status::Corruption("updated JSON document nests deeper than " +
                              std::to_string(json_internal::kMaxDepth) + " containers");
  }
  const bool object = n.kind == Node::Kind::kObject;
  out->push_back(object ? '{' : '[');
  const size_t count = object ? n.members.size() : n.elements.size();
  for (size_t i = 0; i < count; ++i) {
    if (out->size() > max_out) {
      return Status::Corruption("updated JSON document: values overlap, the text grows past " +
                                std::to_string(max_out) + " bytes");
    }
    if (i > 0) out->append(", ");
    if (object) {
      json_internal::AppendQuoted(n.members[i].key, out);
      out->append(": ");
    }
    SLUICE_RETURN_IF_ERROR(
        Render(object ? n.members[i].value : n.elements[i], depth + 1, max_out, out));
  }
  out->push_back(object ? '}' : ']');
  return Status::Ok();
}

// One leg of a diff's path: a member name, or an array cell counted from
// the start ([N]) or from the end ([last-N]).
struct Leg {
  bool member = false;
  std::string key;
  uint64_t index = 0;
  bool from_end = false;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Parses the JSON string at the front of *in (which starts with '"'),
// unescaping it into *out: MySQL quotes member names that are not
// ECMAScript identifiers with double_quote().
bool ParseQuoted(std::string_view* in, std::string* out) {
  std::string_view s = in->substr(1);
  auto hex4 = [&](uint32_t* v) {
    if (s.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s[i];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return false;
      *v = (*v << 4) | static_cast<uint32_t>(d);
    }
    s.remove_prefix(4);
    return true;
  };
  while (!s.empty()) {
    const char c = s[0];
    s.remove_prefix(1);
    if (c == '"') {
      *in = s;
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (s.empty()) return false;
    const char e = s[0];
    s.remove_prefix(1);
    switch (e) {
      case '"':
      case '\\':
      case '/': out->push_back(e); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp;
        if (!hex4(&cp)) return false;
        if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // lone low surrogate
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low;
          if (s.size() < 2 || s[0] != '\\' || s[1] != 'u') return false;
          s.remove_prefix(2);
          if (!hex4(&low) || low < 0xdc00 || low > 0xdfff) return false;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        AppendUtf8(cp, out);
        break;
      }
      default: return false;
    }
  }
  return false;
}

// The path grammar Json_path::to_string writes: '$', then `.name`,
// `."quoted name"`, `[N]`, `[last]` or `[last-N]` legs. Whitespace between
// tokens is accepted as MySQL's parser accepts it.
Status ParsePath(std::string_view path, std::vector<Leg>* legs) {
  auto bad = [&](std::string_view why) {
    return Status::Corruption("JSON diff path '" + std::string(path) + "': " + std::string(why));
  };
  std::string_view s = path;
  auto skip = [&] {
    while (!s.empty() && IsSpace(s[0])) s.remove_prefix(1);
  };
  auto number = [&](uint64_t* v) {
    size_t n = 0;
    *v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
      *v = *v * 10 + static_cast<uint64_t>(s[n] - '0');
      if (*v > UINT32_MAX) return false;
      ++n;
    }
    s.remove_prefix(n);
    return n > 0;
  };
  skip();
  if (s.empty() || s[0] != '$') return bad("does not start with '$'");
  s.remove_prefix(1);
  for (skip(); !s.empty(); skip()) {
    Leg leg;
    if (s[0] == '.') {
      s.remove_prefix(1);
      skip();
      leg.member = true;
      if (!s.empty() && s[0] == '"') {
        if (!ParseQuoted(&s, &leg.key)) return bad("bad quoted member name");
      } else {
        size_t n = 0;
        while (n < s.size() && s[n] != '.' && s[n] != '[' && !IsSpace(s[n])) ++n;
        leg.key.assign(s.substr(0, n));
        s.remove_prefix(n);
        if (leg.key.empty() || leg.key == "*") return bad("empty or wildcard member name");
      }
    } else if (s[0] == '[') {
      s.remove_prefix(1);
      skip();
      if (s.substr(0, 4) == "last") {
        s.remove_prefix(4);
        leg.from_end = true;
        skip();
        if (!s.empty() && s[0] == '-') {
          s.remove_prefix(1);
          skip();
          if (!number(&leg.index)) return bad("bad array index after 'last-'");
        }
      } else if (!number(&leg.index)) {
        return bad("array cell is not N, last or last-N");
      }
      skip();
      if (s.empty() || s[0] != ']') return bad("array cell without ']' (ranges are not diffs)");
      s.remove_prefix(1);
    } else {
      return bad("expected '.' or '['");
    }
    legs->push_back(std::move(leg));
  }
  return Status::Ok();
}

// Where an array leg lands in an array of `size` elements (MySQL's
// Json_array_index): *pos is clamped for inserts, *inside says whether the
// cell exists.
void ArrayPosition(const Leg& leg, size_t size, size_t* pos, bool* inside) {
  *inside = leg.index < size;
  if (leg.from_end) {
    *pos = *inside ? size - 1 - leg.index : 0;
  } else {
    *pos = std::min<uint64_t>(leg.index, size);
  }
}

// Follows legs [0, n) from *root; *found is nullptr when the path does not
// exist (MySQL's seek_exact_path: no auto-wrapping).
Status Seek(Node* root, const std::vector<Leg>& legs, size_t n, size_t* budget, Node** found) {
  Node* cur = root;
  for (size_t i = 0; i < n && cur != nullptr; ++i) {
    SLUICE_RETURN_IF_ERROR(Expand(cur, budget));
    const Leg& leg = legs[i];
    Node* next = nullptr;
    if (cur->kind == Node::Kind::kArray && !leg.member) {
      size_t pos;
      bool inside;
      ArrayPosition(leg, cur->elements.size(), &pos, &inside);
      if (inside) next = &cur->elements[pos];
    } else if (cur->kind == Node::Kind::kObject && leg.member) {
      for (Member& m : cur->members) {
        if (m.key == leg.key) {
          next = &m.value;
          break;
        }
      }
    }
    cur = next;
  }
  *found = cur;
  return Status::Ok();
}

// Applies one diff; *applied is false when it does not apply to the document
// (MySQL's apply_json_diff returning REJECTED).
Status Apply(Op op, const std::vector<Leg>& legs, std::string_view value, Node* root,
             size_t* budget, bool* applied) {
  *applied = false;
  if (legs.empty()) return Status::Ok();  // MySQL never logs a diff of '$'
  Node* target = nullptr;
  if (op == Op::kReplace) {
    SLUICE_RETURN_IF_ERROR(Seek(root, legs, legs.size(), budget, &target));
    if (target == nullptr) return Status::Ok();
    *target = FromBinaryDoc(value);
    *applied = true;
    return Status::Ok();
  }
  SLUICE_RETURN_IF_ERROR(Seek(root, legs, legs.size() - 1, budget, &target));
  if (target == nullptr) return Status::Ok();
  SLUICE_RETURN_IF_ERROR(Expand(target, budget));
  const Leg& last = legs.back();
  if (target->kind == Node::Kind::kObject && last.member) {
    auto& members = target->members;
    auto it = std::find_if(members.begin(), members.end(),
                           [&](const Member& m) { return m.key == last.key; });
    if (op == Op::kInsert) {
      if (it != members.end()) return Status::Ok();
      auto at = std::find_if(members.begin(), members.end(),
                             [&](const Member& m) { return KeyLess(last.key, m.key); });
      members.insert(at, Member{last.key, FromBinaryDoc(value)});
    } else {
      if (it == members.end()) return Status::Ok();
      members.erase(it);
    }
    *applied = true;
  } else if (target->kind == Node::Kind::kArray && !last.member) {
    auto& elements = target->elements;
    size_t pos;
    bool inside;
    ArrayPosition(last, elements.size(), &pos, &inside);
    if (op == Op::kInsert) {
      elements.insert(elements.begin() + static_cast<ptrdiff_t>(pos), FromBinaryDoc(value));
    } else {
      if (!inside) return Status::Ok();
      elements.erase(elements.begin() + static_cast<ptrdiff_t>(pos));
    }
    *applied = true;
  }
  return Status::Ok();
}

// MySQL's net_field_length: < 251 one byte; 252 + 2 bytes; 253 + 3 bytes;
// 254 + 8 bytes. 251 (NULL) and 255 are not lengths.
bool ReadNetLength(std::string_view* in, uint64_t* v) {
  if (in->empty()) return false;
  const uint8_t b = static_cast<uint8_t>((*in)[0]);
  int n = 0;
  if (b < 251) {
    *v = b;
    in->remove_prefix(1);
    return true;
  }
  if (b == 252) n = 2;
  if (b == 253) n = 3;
  if (b == 254) n = 8;
  if (n == 0 || in->size() < 1 + static_cast<size_t>(n)) return false;
  *v = 0;
  for (int i = n; i >= 1; --i) *v = (*v << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(1 + n);
  return true;
}

// Reads a length-prefixed field of a diff into *field.
bool ReadField(std::string_view* in, std::string_view* field) {
  uint64_t len;
  if (!ReadNetLength(in, &len) || len > in->size()) return false;
  *field = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

Status ApplyAll(std::string_view before, std::string_view diffs, Node* root) {
  *root = FromBinaryDoc(before);
  size_t budget = before.size() + diffs.size();
  for (int i = 0; !diffs.empty(); ++i) {
    const std::string where = "JSON diff " + std::to_string(i);
    const uint8_t op_byte = static_cast<uint8_t>(diffs[0]);
    if (op_byte > static_cast<uint8_t>(Op::kRemove)) {
      return Status::Corruption(where + ": unknown operation " + std::to_string(op_byte));
    }
    const Op op = static_cast<Op>(op_byte);
    diffs.remove_prefix(1);
    std::string_view path, value;
    if (!ReadField(&diffs, &path)) {
      return Status::Corruption(where + ": path length or path runs past the diffs' end");
    }
    if (op != Op::kRemove && !ReadField(&diffs, &value)) {
      return Status::Corruption(where + ": value length or value runs past the diffs' end");
    }
    std::vector<Leg> legs;
    SLUICE_RETURN_IF_ERROR(ParsePath(path, &legs).WithContext(where));
    bool applied;
    SLUICE_RETURN_IF_ERROR(Apply(op, legs, value, root, &budget, &applied).WithContext(where));
    if (!applied) {
      return Status::Corruption(where + " (" + OpName(op) + " " + std::string(path) +
                                ") does not apply to the before-image: the path or its "
                                "parent is missing, or the member already exists");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyJsonDiffs(std::string_view before, std::string_view diffs, std::string* out) {
  Node root;
  SLUICE_RETURN_IF_ERROR(ApplyAll(before, diffs, &root));
  const size_t old_size = out->size();
  Status st =
      Render(root, 0, json_internal::MaxOutput(old_size, before.size() + diffs.size()), out);
  if (!st.ok()) out->resize(old_size);
  return st;
}

}  // namespace sluice::binlog
