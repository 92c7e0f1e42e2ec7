// TraceReader: the file `replay file=` reads on a thread of its own, in
// order, whole, gzip or plain; a damaged .gz is an error after the good part;
// a reader dropped halfway stops at once.
#include "daemon/trace_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace memd {
namespace {

class TraceReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/memd-trace-reader.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // 5.5 chunks of distinct lines: the order of the pieces shows.
    for (int i = 0; text_.size() < TraceReader::kChunkBytes * 11 / 2; ++i) {
      text_ += "line " + std::to_string(i) + "\n";
    }
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string write_plain() {
    const std::string path = dir_ + "/t.trace";
    std::ofstream(path, std::ios::binary) << text_;
    return path;
  }
  std::string write_gz() {
    const std::string path = dir_ + "/t.trace.gz";
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_EQ(gzwrite(f, text_.data(), static_cast<unsigned>(text_.size())),
              static_cast<int>(text_.size()));
    gzclose(f);
    return path;
  }
  // Everything next() gives until the end or an error (which goes in *error).
  static std::string read_all(TraceReader* r, std::string* error) {
    std::string all;
    for (;;) {
      auto chunk = r->next();
      if (!chunk) {
        *error = chunk.error().message;
        return all;
      }
      if (chunk->empty()) return all;
      EXPECT_LE(chunk->size(), TraceReader::kChunkBytes);
      all += *chunk;
    }
  }

  std::string dir_;
  std::string text_;
};

TEST_F(TraceReaderTest, ReadsAPlainFileWholeAndInOrder) {
  auto r = TraceReader::open(write_plain());
  ASSERT_TRUE(r.ok());
  std::string error;
  EXPECT_EQ(read_all(r->get(), &error), text_);
  EXPECT_EQ(error, "");
  // After the end, the end again.
  auto again = (*r)->next();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "");
}

TEST_F(TraceReaderTest, InflatesAGzFile) {
  auto r = TraceReader::open(write_gz());
  ASSERT_TRUE(r.ok());
  std::string error;
  EXPECT_EQ(read_all(r->get(), &error), text_);
  EXPECT_EQ(error, "");
}

TEST_F(TraceReaderTest, AMissingFileIsAnErrorNamingIt) {
  auto r = TraceReader::open(dir_ + "/absent.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot open " + dir_ + "/absent.gz: No such file or directory");
}

TEST_F(TraceReaderTest, OnlyRegularFilesAndAFifoDoesNotBlock) {
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto r = TraceReader::open(fifo);  // without O_NONBLOCK this would wait for a writer
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot open " + fifo + ": not a regular file");
  auto d = TraceReader::open(dir_);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "cannot open " + dir_ + ": not a regular file");
}

TEST_F(TraceReaderTest, ADamagedGzFileGivesItsGoodPartThenAnError) {
  const std::string path = write_gz();
  // Cut the compressed stream in the middle: the part before it inflates.
  const auto size = std::ifstream(path, std::ios::binary | std::ios::ate).tellg();
  ASSERT_EQ(truncate(path.c_str(), size / 2), 0);
  auto r = TraceReader::open(path);
  ASSERT_TRUE(r.ok());
  std::string error;
  const std::string got = read_all(r->get(), &error);
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), text_.size());
  EXPECT_EQ(got, text_.substr(0, got.size()));
  EXPECT_EQ(error.rfind("reading " + path + ": ", 0), 0u) << error;
}

TEST_F(TraceReaderTest, DroppedHalfwayItStops) {
  auto r = TraceReader::open(write_plain());
  ASSERT_TRUE(r.ok());
  auto first = (*r)->next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, text_.substr(0, first->size()));
  r->reset();  // joins the reading thread, which waits for room: it must not hang
}

}  // namespace
}  // namespace memd
