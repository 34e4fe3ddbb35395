#include "security/principal.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace sluice::security {
namespace {

TEST(KafkaPrincipalTest, ParseAndPrint) {
  Result<KafkaPrincipal> alice = KafkaPrincipal::parse("User:alice");
  ASSERT_TRUE(alice.is_ok());
  EXPECT_EQ(alice->type, "User");
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(*alice, KafkaPrincipal::user("alice"));
  Result<KafkaPrincipal> dn = KafkaPrincipal::parse("User:CN=admin,O=x:y");
  ASSERT_TRUE(dn.is_ok());
  EXPECT_EQ(dn->name, "CN=admin,O=x:y");
  EXPECT_EQ(dn->to_string(), "User:CN=admin,O=x:y");
  Result<KafkaPrincipal> group = KafkaPrincipal::parse("Group:");
  ASSERT_TRUE(group.is_ok());
  EXPECT_EQ(group->type, "Group");
  EXPECT_EQ(group->name, "");
  EXPECT_FALSE(KafkaPrincipal::parse("").is_ok());
  EXPECT_EQ(KafkaPrincipal::parse("alice").status().message(),
            "expected a string in format principalType:principalName but got alice");
  EXPECT_EQ(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
  EXPECT_EQ(KafkaPrincipal{}.type, "User");
}

std::string map(std::string_view rules, std::string_view dn) {
  Result<SslPrincipalMapper> mapper = SslPrincipalMapper::parse(rules);
  EXPECT_TRUE(mapper.is_ok()) << mapper.status().to_string();
  if (!mapper) return "<parse error>";
  Result<std::string> name = mapper->map(dn);
  return name.is_ok() ? *name : "<error: " + name.status().message() + ">";
}

// The cases of Kafka's SslPrincipalMapperTest.
TEST(SslPrincipalMapperTest, KafkasRules) {
  std::string rules =
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
      "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
      "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U,"
      "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,"
      "DEFAULT";
  EXPECT_EQ(map(rules, "CN=Duke,OU=ServiceUsers,O=Org,C=US"), "Duke");
  EXPECT_EQ(map(rules, "CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"), "duke@sme");
  EXPECT_EQ(map(rules, "cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
  EXPECT_EQ(map(rules, "cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
  EXPECT_EQ(map(rules, "OU=JavaSoft,O=Sun Microsystems,C=US"),
            "OU=JavaSoft,O=Sun Microsystems,C=US");
  EXPECT_EQ(map("DEFAULT", "CN=alice,OU=eng,O=Sluice,C=FR"), "CN=alice,OU=eng,O=Sluice,C=FR");
  EXPECT_EQ(map("", "CN=x").substr(0, 26), "<error: No rules apply to ");
  EXPECT_EQ(map("RULE:^CN=(.*)$/$1/", "OU=x"),
            "<error: No rules apply to OU=x, rules [RULE:^CN=(.*)$/$1]>");
}

TEST(SslPrincipalMapperTest, SpacesCommasAndEscapes) {
  EXPECT_EQ(map(" RULE:^CN=(.*?),OU=(.*?)$/$1 of $2/ , DEFAULT ", "CN=a,OU=b"), "a of b");
  EXPECT_EQ(map("RULE:^CN=(.*)\\/x$/$1/", "CN=a/x"), "a");
  EXPECT_EQ(map("RULE:^CN=(.*)$/\\$1-$1/", "CN=a"), "$1-a");
  // $n beyond the groups: literal (Kafka's escapeLiteralBackReferences); $12 with one group is $1
  // then 2.
  EXPECT_EQ(map("RULE:^CN=(.*)$/$1$3/", "CN=a"), "a$3");
  EXPECT_EQ(map("RULE:^CN=(.*)$/$12/", "CN=a"), "a2");
  EXPECT_EQ(map("RULE:(?i)^cn=(.*)$/$1/L", "CN=ALICE"), "alice");
  EXPECT_EQ(map(",,DEFAULT,", "CN=a"), "CN=a");
}

// Rules, a DN, and what Kafka's SslPrincipalMapper (run under Java 17) gave.
TEST(SslPrincipalMapperTest, SameAsKafkasMapper) {
  struct Case {
    std::string_view rules, dn, kafka;
  };
  const Case cases[] = {
      {" RULE:^CN=(.*?),OU=(.*?)$/$1 of $2/ , DEFAULT ", "CN=a,OU=b", "a of b"},
      {"RULE:^CN=(.*)\\/x$/$1/", "CN=a/x", "a"},
      {"RULE:^CN=(.*)$/\\$1-$1/", "CN=a", "$1-a"},
      {"RULE:^CN=(.*)$/$1$3/", "CN=a", "a$3"},
      {"RULE:^CN=(.*)$/$12/", "CN=a", "a2"},
      {"RULE:(?i)^cn=(.*)$/$1/L", "CN=ALICE", "alice"},
      {",,DEFAULT,", "CN=a", "CN=a"},
      {"DEFAULTX", "x", "<error: Invalid rule: `DEFAULTX`, unmatched substring: `X`>"},
      {"RULE:a/b", "x", "<error: Invalid rule: `RULE:a/b`, unmatched substring: `RULE:a/b`>"},
      {"RULE:a/b/X", "x", "<error: Invalid rule: `RULE:a/b/X`, unmatched substring: `X`>"},
      {"RULE:a/b/Lx", "x", "<error: Invalid rule: `RULE:a/b/Lx`, unmatched substring: `x`>"},
      {"garbage", "x", "<error: Invalid rule: `garbage`, unmatched substring: `garbage`>"},
      {"DEFAULT, foo", "x", "<error: Invalid rule: `foo`, unmatched substring: `foo`>"},
      {"RULE:^CN=a$/$1/", "CN=a", "<error: No group 1>"},
      {"", "CN=x", "<error: No rules apply to CN=x, rules []>"},
      {"RULE:^CN=(.*)$/$1/", "OU=x", "<error: No rules apply to OU=x, rules [RULE:^CN=(.*)$/$1]>"},
      {"RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/U", "CN=alice,OU=eng,O=Sluice,C=FR", "ALICE@ENG"},
      {"RULE:.*/X/", "abc", "XX"},
      {"RULE:^CN=([^,]*),.*$/$1/L, RULE:x/y/", "CN=Bob,O=z", "bob"},
      {"RULE:a/b/ L", "a", "<error: Invalid rule: `RULE:a/b/ L`, unmatched substring: ` L`>"},
      {"RULE:a/b/L ,DEFAULT", "a", "b"},
      {"RULE:a,b/c/,DEFAULT", "a,b", "c"},
  };
  for (const Case& c : cases) {
    std::string got;
    Result<SslPrincipalMapper> mapper = SslPrincipalMapper::parse(c.rules);
    if (!mapper) {
      got = "<error: " + mapper.status().message() + ">";
    } else {
      Result<std::string> name = mapper->map(c.dn);
      got = name ? *name : "<error: " + name.status().message() + ">";
    }
    EXPECT_EQ(got, c.kafka) << "rules " << c.rules << ", DN " << c.dn;
  }
}

TEST(SslPrincipalMapperTest, InvalidRules) {
  for (std::string_view rules :
       {"DEFAULTX", "RULE:a/b", "RULE:a/b/X", "RULE:a/b/Lx", "garbage", "RULE:(/x/",
        "RULE:(?<=a)b/x/", "RULE:a++/x/", "RULE:\\Aa/x/", "RULE:(?<name>a)/x/"}) {
    Result<SslPrincipalMapper> mapper = SslPrincipalMapper::parse(rules);
    EXPECT_FALSE(mapper.is_ok()) << rules;
  }
  EXPECT_EQ(SslPrincipalMapper::parse("RULE:a/b/Lx").status().message(),
            "Invalid rule: `RULE:a/b/Lx`, unmatched substring: `x`");
  EXPECT_EQ(SslPrincipalMapper::parse("DEFAULT, foo").status().message(),
            "Invalid rule: `foo`, unmatched substring: `foo`");
  // A replacement naming a group a pattern without groups lacks fails at mapping, as in Java.
  EXPECT_EQ(map("RULE:^CN=a$/$1/", "CN=a").substr(0, 7), "<error:");
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A self-signed certificate whose subject gets `add`'s entries.
template <class Add>
X509Ptr make_cert(Add add) {
  X509Ptr cert(X509_new(), X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  EXPECT_NE(key, nullptr);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  add(name);
  X509_set_issuer_name(cert.get(), name);
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  // Through DER and back, as a peer's certificate arrives: the values of a
  // multi-valued RDN are then in DER's SET OF order.
  unsigned char* der = nullptr;
  int size = i2d_X509(cert.get(), &der);
  EXPECT_GT(size, 0);
  const unsigned char* cursor = der;
  X509Ptr parsed(d2i_X509(nullptr, &cursor, size), X509_free);
  OPENSSL_free(der);
  EXPECT_NE(parsed, nullptr);
  return parsed;
}

void add(X509_NAME* name, const char* field, std::string_view value, int type = MBSTRING_UTF8,
         int set = 0) {
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, field, type,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, set),
            1)
      << field;
}

std::string subject(const X509Ptr& cert) {
  Result<std::string> dn = rfc2253_subject(cert.get());
  EXPECT_TRUE(dn.is_ok()) << dn.status().to_string();
  return dn.is_ok() ? *dn : "";
}

TEST(Rfc2253Test, MostSpecificFirst) {
  X509Ptr cert = make_cert([](X509_NAME* name) {
    add(name, "C", "FR");
    add(name, "O", "Sluice");
    add(name, "OU", "eng");
    add(name, "CN", "alice");
  });
  EXPECT_EQ(subject(cert), "CN=alice,OU=eng,O=Sluice,C=FR");
  EXPECT_EQ(map("DEFAULT", subject(cert)), "CN=alice,OU=eng,O=Sluice,C=FR");
  EXPECT_EQ(map("RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/U", subject(cert)), "ALICE@ENG");
}

TEST(Rfc2253Test, KeywordsEscapesOidsAndMultiValuedRdns) {
  X509Ptr cert = make_cert([](X509_NAME* name) {
    add(name, "DC", "com", MBSTRING_ASC);
    add(name, "DC", "example", MBSTRING_ASC);
    add(name, "L", "Paris");
    add(name, "ST", "IdF");
    add(name, "street", "1 rue X");
    add(name, "CN", "Doe, John <j+d=x#;\"\\>");
    add(name, "UID", "jd", MBSTRING_UTF8, -1);  // same RDN as the CN
    add(name, "emailAddress", "jd@x.io", MBSTRING_ASC);
    add(name, "serialNumber", "42", MBSTRING_ASC);
    add(name, "OU", " padded ");
    add(name, "O", "Zo\xc3\xab");
    add(name, "title", "#x");
  });
  // Java 17's X500Principal.getName() prints this for the same subject (a
  // certificate made with `openssl req -multivalue-rdn -utf8`).
  EXPECT_EQ(subject(cert),
            "2.5.4.12=#0c022378,"
            "O=Zo\xc3\xab,"
            "OU=\\ padded\\ ,"
            "2.5.4.5=#13023432,"
            "1.2.840.113549.1.9.1=#16076a6440782e696f,"
            "UID=jd+CN=Doe\\, John \\<j\\+d\\=x\\#\\;\\\"\\\\\\>,"
            "STREET=1 rue X,ST=IdF,L=Paris,DC=example,DC=com");
}

TEST(Rfc2253Test, EmptySubjectAndNull) {
  X509Ptr cert = make_cert([](X509_NAME*) {});
  EXPECT_EQ(subject(cert), "");
  EXPECT_FALSE(rfc2253_subject(nullptr).is_ok());
}

}  // namespace
}  // namespace sluice::security
