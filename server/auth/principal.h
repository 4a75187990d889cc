#ifndef CIRCUIT_SERVER_AUTH_PRINCIPAL_H_
#define CIRCUIT_SERVER_AUTH_PRINCIPAL_H_

#include <string>

namespace circuit {

// The studio of classes, kiosks and accounts that name none.
inline constexpr char kDefaultStudio[] = "main";

// Who a credential says the caller is, and what it is scoped to.
struct Principal {
  enum class Role {
    kNone,        // no credential
    kBootstrap,   // circuitd's own instructor key: every studio, everything
    kAdmin,       // an admin account: everything in its studio
    kInstructor,  // an instructor account: its own classes in its studio
    kClass,       // a class credential: one class only
    kKiosk,       // the studio kiosk key or a paired TV: watch its studio
  };
  Role role = Role::kNone;
  // The account ("a3"), kiosk ("k2"), "bootstrap" or "studio-kiosk"; for a
  // class credential, the account that issued it.
  std::string subject;
  // The studio it belongs to; empty for the bootstrap key.
  std::string studio;
  // kClass: the one class it opens.
  std::string class_id;
};

}  // namespace circuit

#endif  // CIRCUIT_SERVER_AUTH_PRINCIPAL_H_
