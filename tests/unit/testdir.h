// A fresh temporary folder per test, removed afterwards (both platforms).
#ifndef ISM_TESTDIR_H
#define ISM_TESTDIR_H

#include <string>

std::string ism_test_mkdtemp();
void ism_test_rmtree(const std::string &dir);

#endif
