// Strong types for positions. A commit-log offset, an epoch and a count must
// not be interchangeable integers (redpanda model/fundamental.h).
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string_view>

namespace sluice {

// A value of T that only converts explicitly. Tag makes each use distinct.
template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const NamedType&) const = default;

  static constexpr NamedType Max() { return NamedType(std::numeric_limits<T>::max()); }

 private:
  T v_{};
};

template <typename T, typename Tag>
std::ostream& operator<<(std::ostream& os, NamedType<T, Tag> v) {
  return os << v.value();
}

// Position of a record in a destination's commit log: dense, from 0.
struct OffsetTag;
class Offset : public NamedType<uint64_t, OffsetTag> {
 public:
  using NamedType::NamedType;
  constexpr Offset(NamedType v) : NamedType(v) {}  // NOLINT(google-explicit-constructor)
  constexpr Offset operator+(uint64_t n) const { return Offset(value() + n); }
  constexpr uint64_t operator-(Offset o) const { return value() - o.value(); }
  constexpr Offset& operator+=(uint64_t n) { return *this = Offset(value() + n); }
};

// Leadership term of a node; each promotion starts a new one.
using Epoch = NamedType<uint64_t, struct EpochTag>;

// A node's role. Its names ("primary", "standby") are what the config, the
// ROLE file, the wire (StatusResponse.role) and the pages say; code holds
// the enum and converts at those edges.
enum class Role { kPrimary, kStandby };

constexpr std::string_view RoleName(Role r) { return r == Role::kPrimary ? "primary" : "standby"; }

constexpr std::optional<Role> ParseRole(std::string_view name) {
  if (name == "primary") return Role::kPrimary;
  if (name == "standby") return Role::kStandby;
  return std::nullopt;
}

}  // namespace sluice
