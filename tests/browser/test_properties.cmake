# Included by ctest after the tests gtest_discover_tests found in
# tests/browser (see CMakeLists.txt beside this file).
set_tests_properties(BrowserClassTest.TwoPhonesAndAKioskFollowAWholeClass
  PROPERTIES LABELS browser PROCESSORS 2 TIMEOUT 120)
set_tests_properties(BrowserConsoleTest.AnInstructorRunsAWholeClassFromTheConsole
  PROPERTIES LABELS browser PROCESSORS 2 TIMEOUT 180)
set_tests_properties(BrowserClassTest.APhoneKeepsAProfileOverThreeClasses
  PROPERTIES LABELS browser PROCESSORS 2 TIMEOUT 180)
set_tests_properties(BrowserClusterTest.PagesOfAKilledNodeGoOnOnTheOther
  PROPERTIES LABELS "browser;cluster" PROCESSORS 2 TIMEOUT 180)
