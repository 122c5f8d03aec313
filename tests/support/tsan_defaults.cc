// Linked into every test binary of the TSan build (SLUICE_TSAN=ON), and into
// sluice and sluiced, which tests start as children: TSan's
// default options and suppressions, so they hold however a test is started.
//
// Debian's librocksdb is not built with -fsanitize=thread, so TSan does not
// see the synchronization inside it (its lock-free memtable, its caches) and
// reports races between RocksDB's own accesses (seen: memtable insert vs
// lookup, RegisterCacheDeleterRole). Races whose stacks are in RocksDB are
// suppressed; races in our own code, including between our threads around
// calls into RocksDB, are still reported.
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1 second_deadlock_stack=1";
}

extern "C" const char* __tsan_default_suppressions() {
  return "race:librocksdb.so\n"
         "race:rocksdb::\n";
}
