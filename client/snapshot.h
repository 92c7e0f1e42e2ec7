// memctl snapshot save / load: the machine's state between memd's socket and
// a local file (memd never opens a file a client names).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "client/connection.h"

namespace memd::client {

// A file replaced atomically: written to a temporary file beside it, which
// is fsync()ed and renamed over it on commit(), and removed otherwise. An
// interrupted memctl leaves the old file as it was.
class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  Status write(std::string_view data);
  Status commit();

 private:
  AtomicFile(std::string path, std::string temp, int fd);
  std::string path_;
  std::string temp_;  // "" once renamed
  int fd_ = -1;
};

// The whole of a file, or of stdin for "-".
Result<std::string> read_all(const std::string& path);

// `snapshot save`: memd replies {"ok":true,"bytes":N,...} and then sends N raw
// bytes, written to `file` (stdout when there is none; `path` names it).
int snapshot_save(Connection* conn, const std::string& path, AtomicFile* file, bool json,
                  std::ostream& out, std::ostream& err);
// `snapshot load bytes=N` and the N bytes of `state` (read from `path`); then memd's reply.
int snapshot_load(Connection* conn, const std::string& path, const std::string& state, bool json,
                  std::ostream& out, std::ostream& err);

}  // namespace memd::client
