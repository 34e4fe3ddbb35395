// meta.properties: `sluice storage format` (format_meta_properties) and the
// start of a node with process.roles set, which refuses unformatted dirs
// (ensure_meta_properties with UnformattedDirs::refuse).

#include "cluster/meta_properties.h"

#include <gtest/gtest.h>

#include "cluster/ids.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

const std::string cluster_id = "MkU3OEVBNTcwNTJENDM2Qg";

class MetaPropertiesTest : public ::testing::Test {
 protected:
  MetaProperties read(const std::string& dir) {
    auto found = read_meta_properties(fs_, dir);
    EXPECT_TRUE(found) << found.status().message();
    EXPECT_TRUE(found && *found) << dir << " has no meta.properties";
    return found && *found ? **found : MetaProperties{};
  }

  storage::MemoryFileSystem fs_;
  SeededRandom random_{7};
};

TEST_F(MetaPropertiesTest, FormatWritesEveryDirWithItsOwnDirectoryId) {
  auto written = format_meta_properties(fs_, {"/a", "/b", "/meta"}, 3, cluster_id, false, random_);
  ASSERT_TRUE(written) << written.status().message();
  EXPECT_EQ(*written, (std::vector<std::string>{"/a", "/b", "/meta"}));
  MetaProperties a = read("/a"), b = read("/b");
  EXPECT_EQ(a.node_id, 3);
  EXPECT_EQ(a.cluster_id, cluster_id);
  EXPECT_EQ(b.cluster_id, cluster_id);
  EXPECT_FALSE(a.directory_id.is_zero());
  EXPECT_NE(a.directory_id, b.directory_id);
}

TEST_F(MetaPropertiesTest, FormatRefusesAFormattedDirUnlessIgnoreFormatted) {
  ASSERT_TRUE(format_meta_properties(fs_, {"/a"}, 1, cluster_id, false, random_));
  Uuid first_id = read("/a").directory_id;
  auto again = format_meta_properties(fs_, {"/a", "/b"}, 1, cluster_id, false, random_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().message(),
            "Log directory /a is already formatted. Use --ignore-formatted to ignore this "
            "directory and format the others.");
  auto exists = fs_.exists("/b/meta.properties");
  EXPECT_TRUE(exists && !*exists);  // nothing written on a refusal

  auto ignored = format_meta_properties(fs_, {"/a", "/b"}, 1, cluster_id, true, random_);
  ASSERT_TRUE(ignored) << ignored.status().message();
  EXPECT_EQ(*ignored, std::vector<std::string>{"/b"});
  EXPECT_EQ(read("/a").directory_id, first_id);  // left as it was
  auto none = format_meta_properties(fs_, {"/a", "/b"}, 1, cluster_id, true, random_);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(MetaPropertiesTest, FormatRefusesADirOfAnotherClusterOrNodeEvenWhenIgnoring) {
  ASSERT_TRUE(format_meta_properties(fs_, {"/a"}, 1, cluster_id, false, random_));
  auto other_cluster =
      format_meta_properties(fs_, {"/a"}, 1, "AAAAAAAAAAAAAAAAAAAAAQ", true, random_);
  ASSERT_FALSE(other_cluster);
  EXPECT_EQ(
      other_cluster.status().message(),
      "Invalid cluster.id in: /a/meta.properties. Expected AAAAAAAAAAAAAAAAAAAAAQ, but read " +
          cluster_id);
  auto other_node = format_meta_properties(fs_, {"/a"}, 2, cluster_id, true, random_);
  ASSERT_FALSE(other_node);
  EXPECT_NE(other_node.status().message().find(
                "Stored node id 1 doesn't match previous node id 2 in /a/meta.properties"),
            std::string::npos);
}

TEST_F(MetaPropertiesTest, AStartThatRefusesUnformattedDirsNamesThemAndWritesNothing) {
  ASSERT_TRUE(format_meta_properties(fs_, {"/a"}, 1, cluster_id, false, random_));
  auto refused =
      ensure_meta_properties(fs_, {"/a", "/b"}, 1, std::nullopt, random_, UnformattedDirs::refuse);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("log directory /b is not formatted"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("sluice storage format"), std::string::npos);
  auto exists = fs_.exists("/b/meta.properties");
  EXPECT_TRUE(exists && !*exists);

  auto formatted =
      ensure_meta_properties(fs_, {"/a"}, 1, std::nullopt, random_, UnformattedDirs::refuse);
  ASSERT_TRUE(formatted) << formatted.status().message();
  EXPECT_EQ(*formatted, cluster_id);
  // The lone default node formats what is missing, as it always did.
  auto created = ensure_meta_properties(fs_, {"/a", "/b"}, 1, std::nullopt, random_);
  ASSERT_TRUE(created);
  EXPECT_EQ(read("/b").cluster_id, cluster_id);
}

}  // namespace
}  // namespace sluice::cluster
