// The floor for reading a file through FUSE: a minimal libfuse3 low-level
// filesystem with one file, served from memory with the same open flags as
// memd's files (size 0, direct_io) and the same multithreaded loop. Used by
// bench/fuse_read_bench.cpp to measure what memd adds over FUSE itself.
//
// Usage: fuse_floor MOUNTPOINT CONTENT_FILE   (runs until unmounted or signalled)
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace {

constexpr fuse_ino_t kFileIno = 2;
constexpr char kFileName[] = "buddyinfo";
std::string g_content;

void fill_attr(fuse_ino_t ino, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = 0;  // like procfs
  }
}

void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || std::strcmp(name, kFileName) != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFileIno;
  e.attr_timeout = 1.0;
  e.entry_timeout = 1.0;
  fill_attr(kFileIno, &e.attr);
  fuse_reply_entry(req, &e);
}

void floor_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID && ino != kFileIno) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  fill_attr(ino, &st);
  fuse_reply_attr(req, &st, 1.0);
}

void floor_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFileIno) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fi->direct_io = 1;
  fuse_reply_open(req, fi);
}

void floor_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  if (static_cast<size_t>(off) >= g_content.size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  fuse_reply_buf(req, g_content.data() + off, std::min(size, g_content.size() - off));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuse_floor MOUNTPOINT CONTENT_FILE\n");
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  g_content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());

  fuse_lowlevel_ops ops{};
  ops.lookup = floor_lookup;
  ops.getattr = floor_getattr;
  ops.open = floor_open;
  ops.read = floor_read;

  char prog[] = "fuse_floor";
  char* fargv[] = {prog, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, fargv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (!se) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, argv[1]) == 0) {
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_max_threads(config, 8);
      rc = fuse_session_loop_mt(se, config);
      fuse_loop_cfg_destroy(config);
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return rc;
}
