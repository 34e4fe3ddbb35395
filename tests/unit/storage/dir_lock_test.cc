#include "storage/dir_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "test_util.h"

namespace sluice::storage {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(DirLockTest, CreatesTheDirAndWritesTheHoldersPidInItsLockFile) {
  testing::TempDir temp;
  std::string dir = temp.path() + "/new/data";
  auto lock = DirLock::acquire(dir);
  ASSERT_TRUE(lock) << lock.status().to_string();
  EXPECT_EQ(file_text(dir + "/.lock"), std::to_string(::getpid()) + "\n");
}

// Another process (a second broker) is refused, told the dir and the pid.
TEST(DirLockTest, AnotherProcessIsRefusedWithTheDirAndTheHoldersPid) {
  testing::TempDir temp;
  auto lock = DirLock::acquire(temp.path());
  ASSERT_TRUE(lock);
  int to_parent[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(to_parent[0]);
    auto second = DirLock::acquire(temp.path());
    std::string message = second ? "acquired" : second.status().message();
    (void)!::write(to_parent[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(to_parent[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = ::read(to_parent[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<size_t>(n));
  ::close(to_parent[0]);
  int child_status = 0;
  ::waitpid(child, &child_status, 0);
  EXPECT_NE(message.find("directory " + temp.path() + " is in use by another broker"), std::string::npos) << message;
  EXPECT_NE(message.find("process " + std::to_string(::getpid())), std::string::npos) << message;
}

TEST(DirLockTest, TheSameDirTwiceInOneProcessIsRefused) {
  testing::TempDir temp;
  auto lock = DirLock::acquire(temp.path());
  ASSERT_TRUE(lock);
  auto second = DirLock::acquire(temp.path() + "/");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), Errc::invalid_value);
  EXPECT_NE(second.status().message().find("configured twice"), std::string::npos) << second.status().message();
}

TEST(DirLockTest, ReleasedWhenDestroyedAndTakenAgain) {
  testing::TempDir temp;
  { ASSERT_TRUE(DirLock::acquire(temp.path())); }
  auto again = DirLock::acquire(temp.path());
  EXPECT_TRUE(again) << again.status().to_string();
}

}  // namespace
}  // namespace sluice::storage
