// CURVE key files: what `mandrill-ctl keygen` writes and what every client reads at start-up.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "shared/security/curve_keys.h"

namespace mandrill::security {
namespace {

namespace fs = std::filesystem;

class KeyFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mandrill-keys-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  // A file with `text` and `mode`, chmod'ed after creation so the umask does not decide.
  std::string Write(const std::string& file, const std::string& text, mode_t mode) const {
    const std::string path = Path(file);
    std::ofstream(path) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string dir_;
};

TEST(CurveKeysTest, GenerateKeyPairGivesTwoDistinctZ85Keys) {
  auto a = GenerateKeyPair();
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->public_z85.size(), 40u);
  EXPECT_EQ(a->secret_z85.size(), 40u);
  EXPECT_TRUE(IsZ85Key(a->public_z85));
  EXPECT_TRUE(IsZ85Key(a->secret_z85));
  EXPECT_NE(a->public_z85, a->secret_z85);
  auto b = GenerateKeyPair();
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->public_z85, b->public_z85);
  EXPECT_NE(a->secret_z85, b->secret_z85);
}

TEST(CurveKeysTest, IsZ85KeyRefusesWrongLengthAndCharacters) {
  auto pair = GenerateKeyPair();
  ASSERT_TRUE(pair.ok());
  EXPECT_FALSE(IsZ85Key(pair->public_z85.substr(0, 39)));
  EXPECT_FALSE(IsZ85Key(pair->public_z85 + "A"));
  EXPECT_FALSE(IsZ85Key(""));
  EXPECT_FALSE(IsZ85Key(std::string(40, '~')));  // '~' is not in the Z85 alphabet
}

TEST_F(KeyFilesTest, WriteKeyFilesWritesASecret0600AndAPublicFile) {
  auto pair = WriteKeyFiles(dir_, "demo");
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  EXPECT_EQ(Read(Path("demo.key")), pair->secret_z85 + "\n");
  EXPECT_EQ(Read(Path("demo.pub")), pair->public_z85 + "\n");
  EXPECT_EQ(Mode(Path("demo.key")), 0600u);
  EXPECT_EQ(Mode(Path("demo.pub")) & 077, 044u) << "the public file is for handing out";
}

TEST_F(KeyFilesTest, WriteKeyFilesRefusesToOverwrite) {
  auto first = WriteKeyFiles(dir_, "demo");
  ASSERT_TRUE(first.ok());
  auto second = WriteKeyFiles(dir_, "demo");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find(Path("demo.key")), std::string::npos)
      << second.error().message;
  EXPECT_EQ(Read(Path("demo.key")), first->secret_z85 + "\n");
  EXPECT_EQ(Read(Path("demo.pub")), first->public_z85 + "\n");
}

TEST_F(KeyFilesTest, WriteKeyFilesLeavesNoHalfPairWhenThePublicFileExists) {
  Write("demo.pub", "someone else's\n", 0644);
  auto pair = WriteKeyFiles(dir_, "demo");
  ASSERT_FALSE(pair.ok());
  EXPECT_NE(pair.error().message.find(Path("demo.pub")), std::string::npos);
  EXPECT_FALSE(fs::exists(Path("demo.key")));
  EXPECT_EQ(Read(Path("demo.pub")), "someone else's\n");
}

TEST_F(KeyFilesTest, WriteKeyFilesRefusesBadNamesAndMissingDirectories) {
  EXPECT_FALSE(WriteKeyFiles(dir_, "").ok());
  EXPECT_FALSE(WriteKeyFiles(dir_, "a/b").ok());
  auto missing = WriteKeyFiles(dir_ + "/nope", "demo");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(dir_ + "/nope/demo.key"), std::string::npos)
      << missing.error().message;
}

TEST_F(KeyFilesTest, ReadSecretKeyRoundTripsAndDerivesThePublicKey) {
  auto written = WriteKeyFiles(dir_, "demo");
  ASSERT_TRUE(written.ok());
  auto read = ReadSecretKey(Path("demo.key"));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->secret_z85, written->secret_z85);
  EXPECT_EQ(read->public_z85, written->public_z85);
  auto pub = ReadPublicKey(Path("demo.pub"));
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(*pub, written->public_z85);
}

TEST_F(KeyFilesTest, ReadSecretKeyIgnoresSurroundingWhitespace) {
  auto pair = GenerateKeyPair();
  ASSERT_TRUE(pair.ok());
  auto read = ReadSecretKey(Write("spaced.key", "  " + pair->secret_z85 + "\r\n\n", 0400));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->public_z85, pair->public_z85);
}

TEST_F(KeyFilesTest, ReadSecretKeyRefusesAFileOthersCanRead) {
  auto pair = WriteKeyFiles(dir_, "demo");
  ASSERT_TRUE(pair.ok());
  for (mode_t mode : {0644, 0640, 0604}) {
    ASSERT_EQ(::chmod(Path("demo.key").c_str(), mode), 0);
    auto read = ReadSecretKey(Path("demo.key"));
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_NE(read.error().message.find("chmod 600"), std::string::npos) << read.error().message;
    EXPECT_NE(read.error().message.find(Path("demo.key")), std::string::npos);
  }
}

TEST_F(KeyFilesTest, ReadSecretKeyRefusesGarbageEmptyAndMissingFilesNamingThem) {
  using File = std::pair<std::string, std::string>;
  for (const auto& [file, text] :
       {File{"garbage.key", "not a key at all\n"}, File{"long.key", std::string(40, '~') + "\n"},
        File{"empty.key", ""}, File{"blank.key", " \n\n"}}) {
    const std::string path = Write(file, text, 0600);
    auto read = ReadSecretKey(path);
    ASSERT_FALSE(read.ok()) << file;
    EXPECT_NE(read.error().message.find(path), std::string::npos) << read.error().message;
  }
  auto missing = ReadSecretKey(Path("missing.key"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(Path("missing.key")), std::string::npos);
}

TEST_F(KeyFilesTest, ReadPublicKeyRefusesGarbageAndMissingFilesNamingThem) {
  const std::string garbage = Write("garbage.pub", "hello\n", 0644);
  auto bad = ReadPublicKey(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(garbage), std::string::npos) << bad.error().message;
  auto missing = ReadPublicKey(Path("missing.pub"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(Path("missing.pub")), std::string::npos);
}

TEST_F(KeyFilesTest, LoadClientKeysWantsBothFilesOrNeither) {
  auto none = LoadClientKeys("", "");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());

  auto client = WriteKeyFiles(dir_, "client");
  auto broker = WriteKeyFiles(dir_, "broker");
  ASSERT_TRUE(client.ok() && broker.ok());
  for (const auto& [key, broker_key] : {std::pair{Path("client.key"), std::string()},
                                        std::pair{std::string(), Path("broker.pub")}}) {
    auto one = LoadClientKeys(key, broker_key);
    ASSERT_FALSE(one.ok());
    EXPECT_NE(one.error().message.find("--key"), std::string::npos) << one.error().message;
    EXPECT_NE(one.error().message.find("--broker-key"), std::string::npos);
  }

  auto both = LoadClientKeys(Path("client.key"), Path("broker.pub"));
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_TRUE(both->has_value());
  EXPECT_EQ((*both)->own.secret_z85, client->secret_z85);
  EXPECT_EQ((*both)->own.public_z85, client->public_z85);
  EXPECT_EQ((*both)->broker_public_z85, broker->public_z85);
}

TEST_F(KeyFilesTest, LoadClientKeysPassesOnTheFileErrors) {
  auto broker = WriteKeyFiles(dir_, "broker");
  ASSERT_TRUE(broker.ok());
  auto missing_pub = LoadClientKeys(Path("broker.key"), Path("missing.pub"));
  ASSERT_FALSE(missing_pub.ok());
  EXPECT_NE(missing_pub.error().message.find(Path("missing.pub")), std::string::npos);
  auto swapped = LoadClientKeys(Path("broker.key"), Path("broker.key"));
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.error().message.find("secret key"), std::string::npos);
  ASSERT_EQ(::chmod(Path("broker.key").c_str(), 0644), 0);
  auto open_key = LoadClientKeys(Path("broker.key"), Path("broker.pub"));
  ASSERT_FALSE(open_key.ok());
  EXPECT_NE(open_key.error().message.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace mandrill::security
