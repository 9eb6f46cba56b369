// A fresh temporary folder per test, removed afterwards (both platforms),
// and small helpers the unit tests share.
#ifndef ISM_TESTDIR_H
#define ISM_TESTDIR_H

#include <string>

std::string ism_test_mkdtemp();
void ism_test_rmtree(const std::string &dir);
// Base64 (RFC 4648, with padding), for SASL PLAIN and AUTH LOGIN lines.
std::string ism_test_b64(const std::string &in);

#endif
