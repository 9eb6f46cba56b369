# ISMail: the two set-up commands (see README.md) and the steps under them.
#   make run   install what is missing, build, install the MSI into a Wine
#              prefix, start the service through the service manager, open the manager
#   make test  install what is missing, build both targets, run every suite
#   make stop  end what `make run` started
#   make bench measurements written to docs/performance.md
#   make vcxproj  the Visual Studio projects from CMake's source lists (commit the result)
#   make linux-bundled-openssl  the service and ismailctl for Linux, linked with a
#              native build of the OpenSSL the MSI bundles (not Debian's system one)
#   make fuzz  every libFuzzer target for FUZZ_SECONDS (600) each (docs/fuzzing.md)
#   make fuzz-build / make asan  the fuzz targets (build/fuzz, clang) and the
#              ASan+UBSan build of the tests, service and ismailctl (build/asan)
SHELL := /bin/bash
BUILD ?= build
LINUX_BUILD := $(BUILD)/linux
WIN_BUILD := $(BUILD)/win
FUZZ_BUILD := $(BUILD)/fuzz
ASAN_BUILD := $(BUILD)/asan
FUZZ_SECONDS ?= 600
MSI := $(BUILD)/ISMail.msi
VERSION := $(shell sed -n 's/^\#define ISM_VERSION_STRING "\(.*\)"/\1/p' resources/version.h)
GEN := $(shell command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")

.PHONY: all bootstrap linux linux-bundled-openssl win msi test run stop bench clean fuzz fuzz-build asan

all: linux win msi

bootstrap:
	@QUIET=1 bash cmake/bootstrap.sh

linux: bootstrap
	@cmake -S . -B $(LINUX_BUILD) -G "$(GEN)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(LINUX_BUILD) -j2

# The same OpenSSL version as the MSI's, built as shared libraries for Linux by
# bootstrap.sh --native-openssl; CMake's build rpath points the programs at it.
# A cache made against another OpenSSL prefix is dropped so pkg-config runs again.
linux-bundled-openssl: bootstrap
	@ossl=$$(QUIET=1 bash cmake/bootstrap.sh --native-openssl | tail -1) && \
	if [ -f $(BUILD)/linux-ossl/CMakeCache.txt ] && ! grep -qF "$$ossl/lib" $(BUILD)/linux-ossl/CMakeCache.txt; then \
	  rm -f $(BUILD)/linux-ossl/CMakeCache.txt; fi && \
	PKG_CONFIG_PATH=$$ossl/lib/pkgconfig cmake -S . -B $(BUILD)/linux-ossl -G "$(GEN)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && \
	cmake --build $(BUILD)/linux-ossl -j2 --target ismail-service ismailctl

# openssl.exe (the bundled OpenSSL's command line, for the MSI's Apache\install)
# is copied into $(WIN_BUILD)/apache-install, where build-msi.sh takes it.
win: bootstrap
	@set -o pipefail; deps=$$(QUIET=1 bash cmake/bootstrap.sh --mingw-openssl-cli | tail -2) && \
	cmake -S . -B $(WIN_BUILD) -G "$(GEN)" -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/mingw-w64.cmake \
	  -DISMAIL_DEPS="$$(head -1 <<<"$$deps")" -DCMAKE_BUILD_TYPE=Release >/dev/null && \
	mkdir -p $(WIN_BUILD)/apache-install && cp -p "$$(tail -1 <<<"$$deps")" $(WIN_BUILD)/apache-install/openssl.exe
	@cmake --build $(WIN_BUILD) -j2

msi: win
	@bash installer-wix/build-msi.sh $(WIN_BUILD) $(MSI)

# Every .vcxproj and ISMail.sln, written by scripts/gen-vcxproj.py from the source
# lists CMake records in $(WIN_BUILD)/sources (docs/building-windows.md).
.PHONY: vcxproj
vcxproj: win
	@python3 scripts/gen-vcxproj.py $(WIN_BUILD)

# The libFuzzer targets and their generated certificate seeds (tests/fuzz),
# built with clang with ASan and UBSan.
fuzz-build: bootstrap
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G "$(GEN)" -DISMAIL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j2 --target fuzz-all

# The unit tests, the service and ismailctl with ASan and UBSan (any report is fatal).
asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -G "$(GEN)" -DISMAIL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(ASAN_BUILD) -j2 --target ismail-tests ismail-service ismailctl

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_BUILD)

test: linux win msi asan fuzz-build
	@bash tests/run-all.sh $(LINUX_BUILD) $(WIN_BUILD) $(MSI) $(ASAN_BUILD) $(FUZZ_BUILD)

run: win msi
	@bash scripts/run.sh $(WIN_BUILD) $(MSI)

stop:
	@bash scripts/run.sh --stop

bench: linux linux-bundled-openssl
	@BENCH_BUNDLED_BUILD=$(BUILD)/linux-ossl bash scripts/bench.sh $(LINUX_BUILD)

clean:
	rm -rf $(BUILD)
