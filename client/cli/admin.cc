#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/lib/accounts.h"
#include "client/lib/summary_format.h"

ABSL_FLAG(std::string, role, "instructor",
          "admin add: instructor (runs their own classes) or admin (runs "
          "the studio: its classes, accounts and TVs)");
ABSL_FLAG(std::string, studio, "",
          "admin add: the account's studio (default: the caller's, \"main\" "
          "for the bootstrap key)");

namespace circuit::client::cli {

namespace {

constexpr char kAdminUsage[] =
    "admin add NAME [--role=instructor|admin] [--studio=S] [--ttl_seconds=N]\n"
    "admin list [--json]\n"
    "admin revoke ACCOUNT\n"
    "admin reissue ACCOUNT [--ttl_seconds=N]\n"
    "admin sign-in ACCOUNT [--ttl_seconds=N]\n"
    "admin rotate-key\n"
    "admin retire-key KEY";

// One account as a line of `circuit admin list`.
std::string AccountLine(const v1::Account& account) {
  return absl::StrCat(
      SanitizeText(account.account_id()), "  ",
      account.role() == v1::ACCOUNT_ROLE_ADMIN ? "admin     " : "instructor",
      "  studio ", SanitizeText(account.studio_id()), "  ",
      SanitizeText(account.name()),
      account.revoked_unix_ms() != 0
          ? "  (revoked)"
          : absl::StrCat("  (credential until ",
                         LocalTime(account.credential_expires_unix_ms()), ")"));
}

// An account's new credential, shown this once.
int PrintCredential(const v1::AccountCredential& credential) {
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(credential);
    return kExitOk;
  }
  std::printf(
      "%s\n%s\ncircuitd keeps only its hash: keep it secret, give it to "
      "them once (as --key or CIRCUIT_INSTRUCTOR_KEY)\n",
      AccountLine(credential.account()).c_str(),
      credential.credential().c_str());
  return kExitOk;
}

int PrintSigningKeys(const v1::SigningKeys& keys) {
  for (const v1::SigningKey& key : keys.keys()) {
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(key);
    } else {
      std::printf("%s  since %s%s\n", SanitizeText(key.key_id()).c_str(),
                  LocalTime(key.created_unix_ms()).c_str(),
                  key.signing() ? "  (signs new credentials)" : "");
    }
  }
  return kExitOk;
}

int Admin(const std::vector<char*>& args) {
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "add" && args.size() == 2) {
    v1::AddAccountRequest add;
    add.set_name(args[1]);
    const std::string role = absl::GetFlag(FLAGS_role);
    if (role == "instructor") {
      add.set_role(v1::ACCOUNT_ROLE_INSTRUCTOR);
    } else if (role == "admin") {
      add.set_role(v1::ACCOUNT_ROLE_ADMIN);
    } else {
      return BadFlag("--role is instructor or admin");
    }
    add.set_studio_id(absl::GetFlag(FLAGS_studio));
    add.set_credential_ttl_seconds(absl::GetFlag(FLAGS_ttl_seconds));
    absl::StatusOr<v1::AccountCredential> credential =
        AddAccount(*Connect(), Key("instructor"), add);
    if (!credential.ok()) return Fail(credential.status());
    return PrintCredential(*credential);
  }
  if (verb == "list" && args.size() == 1) {
    absl::StatusOr<std::vector<v1::Account>> accounts =
        ListAccounts(*Connect(), Key("instructor"));
    if (!accounts.ok()) return Fail(accounts.status());
    for (const v1::Account& account : *accounts) {
      if (absl::GetFlag(FLAGS_json)) {
        PrintJson(account);
      } else {
        std::printf("%s\n", AccountLine(account).c_str());
      }
    }
    return kExitOk;
  }
  if (verb == "revoke" && args.size() == 2) {
    absl::StatusOr<v1::Account> account =
        RevokeAccount(*Connect(), Key("instructor"), args[1]);
    if (!account.ok()) return Fail(account.status());
    std::printf(
        "%s\nits credential and the class credentials it issued no longer "
        "work\n",
        AccountLine(*account).c_str());
    return kExitOk;
  }
  if (verb == "reissue" && args.size() == 2) {
    absl::StatusOr<v1::AccountCredential> credential =
        ReissueAccountCredential(*Connect(), Key("instructor"), args[1],
                                 absl::GetFlag(FLAGS_ttl_seconds));
    if (!credential.ok()) return Fail(credential.status());
    return PrintCredential(*credential);
  }
  if (verb == "sign-in" && args.size() == 2) {
    absl::StatusOr<v1::SignInCode> code =
        IssueSignInCode(*Connect(), Key("instructor"), args[1],
                        absl::GetFlag(FLAGS_ttl_seconds));
    if (!code.ok()) return Fail(code.status());
    if (absl::GetFlag(FLAGS_json)) {
      PrintJson(*code);
      return kExitOk;
    }
    std::printf("sign-in code for %s: %s\n%s%s%sworks once, until %s\n",
                SanitizeText(code->account_id()).c_str(),
                SanitizeText(code->code()).c_str(),
                code->console_url().empty() ? "" : "or open: ",
                SanitizeText(code->console_url()).c_str(),
                code->console_url().empty() ? "" : "\n",
                LocalTime(code->expires_unix_ms()).c_str());
    return kExitOk;
  }
  if (verb == "rotate-key" && args.size() == 1) {
    absl::StatusOr<v1::SigningKeys> keys =
        RotateSigningKey(*Connect(), Key("instructor"));
    if (!keys.ok()) return Fail(keys.status());
    return PrintSigningKeys(*keys);
  }
  if (verb == "retire-key" && args.size() == 2) {
    absl::StatusOr<v1::SigningKeys> keys =
        RetireSigningKey(*Connect(), Key("instructor"), args[1]);
    if (!keys.ok()) return Fail(keys.status());
    return PrintSigningKeys(*keys);
  }
  return Usage(kAdminUsage);
}

}  // namespace

std::vector<Subcommand> AdminSubcommands() {
  return {
      {"admin",
       {{"add NAME", "add an instructor or admin account (--role, --studio)"},
        {"list", "the accounts you administer"},
        {"revoke ACCOUNT", "revoke an account and what it issued"},
        {"reissue ACCOUNT", "a new credential; the old one stops working"},
        {"sign-in ACCOUNT", "a one-time code and link for the browser console"},
        {"rotate-key", "sign new credentials with a new key"},
        {"retire-key KEY", "retire an older signing key"}},
       kAdminUsage,
       "Accounts: each instructor has one, and only they (or an admin of\n"
       "their studio) run, summarize, export or erase the classes they\n"
       "create. add prints the account's credential once (circuitd keeps\n"
       "only its hash); they use it as --key or CIRCUIT_INSTRUCTOR_KEY.\n"
       "sign-in prints a code and a link that sign the account in to the\n"
       "browser console (/console) once, within 10 minutes (--ttl_seconds,\n"
       "at most 3600); the console stays signed in for 12 hours, until the\n"
       "account is revoked or reissued.\n"
       "An admin manages its studio's accounts; the bootstrap key\n"
       "(<data_dir>/instructor.key) manages every studio's.\n"
       "rotate-key, retire-key: credentials are signed; after a rotation\n"
       "the older key still verifies what it signed until it is retired\n"
       "(then those credentials stop working: reissue them). Bootstrap key.",
       {"role", "studio", "ttl_seconds", "json"},
       Admin},
  };
}

}  // namespace circuit::client::cli
