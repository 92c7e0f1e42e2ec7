// traceio/: every form of a trace read as text. The trace.dat's lines are
// checked against `trace-cmd report`'s text of the same file (the fixture
// tests/traces/kmem.report.txt.gz, written by trace-cmd itself), and the
// compressions against the libraries' own compressors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <lzma.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <sstream>
#include <string>
#include <vector>

#include "traceio/trace_input.h"

namespace memd::traceio {
namespace {

const std::string kDir = MEMD_TRACE_FIXTURES;

// A memory file holding `bytes`, at its start.
int memory_file(const std::string& bytes) {
  const int fd = memfd_create("traceio-test", MFD_CLOEXEC);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  lseek(fd, 0, SEEK_SET);
  return fd;
}

// All of a TraceInput's text; on an error, "ERROR: " and the error.
std::string read_all(std::unique_ptr<TraceInput> in) {
  std::string out;
  std::vector<char> buf(4096);
  for (;;) {
    const long n = in->read(buf.data(), buf.size());
    if (n < 0) return "ERROR: " + in->error();
    if (n == 0) return out;
    out.append(buf.data(), static_cast<size_t>(n));
  }
}

std::unique_ptr<TraceInput> open_fd(int fd, std::string* error) {
  return TraceInput::open(fd, "t", error);
}

std::string text_of(const std::string& bytes) {
  std::string error;
  auto in = open_fd(memory_file(bytes), &error);
  if (!in) return "OPEN: " + error;
  return read_all(std::move(in));
}

std::string gzip(const std::string& s) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, s.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(const std::string& s) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), s.data(), s.size(), 3));
  return out;
}

std::string xz(const std::string& s) {
  std::string out(lzma_stream_buffer_bound(s.size()), '\0');
  size_t pos = 0;
  EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, nullptr,
                                    reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  return out;
}

std::string file(const std::string& path) {
  std::string error;
  auto in = TraceInput::open(::open(path.c_str(), O_RDONLY | O_CLOEXEC), path, &error);
  EXPECT_TRUE(in) << error;
  return in ? read_all(std::move(in)) : "";
}

std::string some_text() {
  std::string s;
  for (int i = 0; i < 20000; ++i) {
    s += "line " + std::to_string(i) + " of a trace\n";
  }
  return s;
}

TEST(Traceio, CompressionIsRecognisedByMagic) {
  EXPECT_EQ(compression_of("\x1f\x8b\x08"), Compression::kGzip);
  EXPECT_EQ(compression_of(std::string("\x28\xb5\x2f\xfd\x00", 5)), Compression::kZstd);
  EXPECT_EQ(compression_of(std::string("\xfd"
                                       "7zXZ\0\0",
                                       7)),
            Compression::kXz);
  EXPECT_EQ(compression_of("# tracer: nop"), Compression::kNone);
  EXPECT_EQ(compression_of(""), Compression::kNone);
  EXPECT_TRUE(is_trace_dat(std::string("\x17\x08\x44tracing6", 11)));
  EXPECT_FALSE(is_trace_dat("tracing"));
}

TEST(Traceio, EveryCompressionGivesTheText) {
  const std::string t = some_text();
  EXPECT_EQ(text_of(t), t);
  EXPECT_EQ(text_of(gzip(t)), t);
  EXPECT_EQ(text_of(zstd(t)), t);
  EXPECT_EQ(text_of(xz(t)), t);
  EXPECT_EQ(text_of(""), "");
  EXPECT_EQ(text_of("x"), "x");
}

TEST(Traceio, ConcatenatedStreamsAreRead) {
  EXPECT_EQ(text_of(gzip("a\n") + gzip("b\n")), "a\nb\n");
  EXPECT_EQ(text_of(zstd("a\n") + zstd("b\n")), "a\nb\n");
  EXPECT_EQ(text_of(xz("a\n") + xz("b\n")), "a\nb\n");
}

TEST(Traceio, StreamCutShortIsAnError) {
  const std::string t = some_text();
  const std::string gz = gzip(t), zs = zstd(t), x = xz(t);
  EXPECT_EQ(text_of(gz.substr(0, gz.size() / 2)),
            "ERROR: the file ends in the middle of its gzip stream");
  EXPECT_EQ(text_of(zs.substr(0, zs.size() / 2)),
            "ERROR: the file ends in the middle of its zstd stream");
  EXPECT_EQ(text_of(x.substr(0, x.size() / 2)),
            "ERROR: the file ends in the middle of its xz stream");
}

TEST(Traceio, FormIsNamed) {
  std::string error;
  EXPECT_EQ(open_fd(memory_file("text\n"), &error)->form(), "text");
  EXPECT_EQ(open_fd(memory_file(zstd("text\n")), &error)->form(), "text (zstd)");
}

// "comm-pid [cpu] ts: event: fields" with runs of blanks made one, and the
// instance prefix trace-cmd puts before lines of a -B buffer taken away.
std::vector<std::string> event_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(": mm_page_") == std::string::npos) continue;
    std::istringstream words(line);
    std::string w, norm;
    while (words >> w) {
      norm += (norm.empty() ? "" : " ") + w;
    }
    out.push_back(norm);
  }
  return out;
}

std::string gunzip(const std::string& path) {
  return file(path);  // traceio reads gzip: checked against zlib above
}

TEST(Traceio, TraceDatIsWhatTraceCmdReportPrints) {
  const std::vector<std::string> dat = event_lines(file(kDir + "/kmem.dat"));
  const std::vector<std::string> report = event_lines(gunzip(kDir + "/kmem.report.txt.gz"));
  ASSERT_GT(report.size(), 100u);
  ASSERT_EQ(dat.size(), report.size());
  for (size_t i = 0; i < dat.size(); ++i) {
    ASSERT_EQ(dat[i], report[i]) << "line " << i;
  }
}

TEST(Traceio, TraceDatThroughAPipeOrCompressedIsTheSame) {
  const std::string direct = file(kDir + "/kmem.dat");
  std::string bytes;
  {
    const int fd = ::open((kDir + "/kmem.dat").c_str(), O_RDONLY | O_CLOEXEC);
    char buf[65536];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
      bytes.append(buf, static_cast<size_t>(n));
    }
    close(fd);
  }
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  // Larger than a pipe's buffer: a child writes it.
  const pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t w = write(p[1], bytes.data() + off, bytes.size() - off);
      if (w <= 0) _exit(1);
      off += static_cast<size_t>(w);
    }
    _exit(0);
  }
  close(p[1]);
  std::string error;
  auto in = open_fd(p[0], &error);
  ASSERT_TRUE(in) << error;
  EXPECT_EQ(read_all(std::move(in)), direct);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(text_of(zstd(bytes)), direct);
  EXPECT_EQ(text_of(gzip(bytes)), direct);
}

TEST(Traceio, DamagedTraceDatIsRefusedAtOpen) {
  std::string error;
  auto in = open_fd(memory_file(std::string("\x17\x08\x44tracing6\0garbage", 18)), &error);
  EXPECT_FALSE(in);
  EXPECT_EQ(error, "reading t: libtracecmd cannot read it as a trace.dat (damaged or cut short?)");
}

}  // namespace
}  // namespace memd::traceio
