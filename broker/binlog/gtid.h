// MySQL GTID events to their text: the GTID of a transaction ("uuid:gno",
// "uuid:tag:gno") and the GTID set of a PREVIOUS_GTIDS event.
//
// Every function takes `data`: the event after its 19-byte common header,
// without the CRC32. They check every length against `data` and return
// Corruption naming what they were reading; they never read past its end.
//
// GTID_LOG_EVENT (33) and ANONYMOUS_GTID_LOG_EVENT (34), fixed layout
// (libs/mysql/binlog/event/control_events.h, Gtid_event):
//   flags (1), uuid (16), gno (8, little-endian, signed), then logical
//   clocks, commit timestamps, transaction length, server versions: not
//   needed for the text and ignored.
//
// GTID_TAGGED_LOG_EVENT (42, MySQL 8.4), a mysql::serialization message
// (libs/mysql/serialization/readme.md, serializer_default_impl.hpp):
//   message  ::= version size last-non-ignorable-id field*
//   version  ::= varlen 1 (serialization_format_version, written as a field id)
//   size     ::= varlen: bytes of the whole message, from `version` on
//   last-non-ignorable-id ::= varlen; a decoder that knows fewer fields
//                 (ids 0..11 here) must refuse the message when it is > 12
//   field    ::= varlen field-id, value; ids ascend, optional fields are
//                 left out; unknown fields after the last known one are
//                 skipped up to `size`
//   The Gtid_event fields (Gtid_event::define_fields): 0 flags (uint8),
//   1 uuid (16 x uint8, each a varlen), 2 gno (int64), 3 tag (string of at
//   most 32 bytes: varlen length, bytes), 4 last_committed (int64),
//   5 sequence_number (int64), 6 immediate_commit_timestamp (uint64),
//   7 original_commit_timestamp (uint64), 8 transaction_length (uint64),
//   9 immediate_server_version (uint32), 10 original_server_version
//   (uint32), 11 commit_group_ticket (uint64).
//   varlen (variable_length_integers.h): the count of trailing one bits of
//   the first byte, plus one, is the byte count n (1..9); the value is the
//   first byte >> n, then the next n-1 bytes little-endian above it (n = 9:
//   the 8 bytes after the first are the value). Signed integers are
//   zigzag-coded first: x >= 0 as x << 1, x < 0 as ((-(x + 1)) << 1) | 1.
//
// PREVIOUS_GTIDS_LOG_EVENT (35), Gtid_set::encode (sql/rpl_gtid_set.cc):
//   n_sids (8, little-endian): untagged format: top byte 0, n_sids in the
//     low 56 bits; tagged format (8.4, when any tag is in the set): top byte
//     1, n_sids in bits 8..55, low byte 1
//   per TSID: uuid (16 raw bytes), [tagged format: tag as a serialization
//     string: varlen length (<= 32), bytes; 0 for no tag], n_intervals (8),
//     then n_intervals x { start (8), end (8, exclusive) }, signed
//     little-endian; intervals ascend and do not touch (start > previous
//     end), every start >= 1
//   nothing after the last TSID.
//
// Texts: uuids in lowercase 8-4-4-4-12 form (Uuid::to_string); a GNO in
// decimal; a set as MySQL's Gtid_set::to_string writes it, but with "," and
// no newline between uuids: "uuid:1-5:7:tag:1-3,uuid2:9". Tags are
// [a-z_][a-z0-9_]{0,31} (mysql::gtid::Tag, lowercased by MySQL).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::binlog {

// "3e11fa47-71ca-11e1-9e33-c80aa9429562:23" from a GTID_LOG_EVENT. The GNO
// must be in [1, 2^63 - 1) as MySQL requires (Gtid_event::Gtid_event).
Result<std::string> ParseMysqlGtid(std::string_view data);

// "3e11fa47-71ca-11e1-9e33-c80aa9429562:domain_1:23" from a
// GTID_TAGGED_LOG_EVENT ("uuid:gno" when its tag is empty).
Result<std::string> ParseTaggedGtid(std::string_view data);

// The GTID set of a PREVIOUS_GTIDS_LOG_EVENT, "" when empty.
Result<std::string> ParsePreviousGtids(std::string_view data);

}  // namespace sluice::binlog
