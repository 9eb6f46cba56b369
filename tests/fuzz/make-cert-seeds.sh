#!/usr/bin/env bash
# Makes the seed corpus of fuzz-cert: a small CA, a leaf certificate for
# mail.example.test signed by it, and the same material in every form
# ismailctl cert install / show accepts (PEM with chain and key, DER,
# TRUSTED CERTIFICATE, PKCS#12 with and without a password and with the old
# RC2/3DES encryption, PKCS#7 in DER and PEM, CSRs, encrypted and
# traditional keys, EC and Ed25519 certificates). Private keys are in here,
# so this runs at build time into the build folder; nothing it makes is
# committed. The PKCS#12 files use few KDF rounds so that each one costs the
# fuzzer little. Passwords: none, or "fuzz" (what fuzz-cert tries).
#   tests/fuzz/make-cert-seeds.sh <output folder>
set -euo pipefail
OUT=${1:?output folder}
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
o() { openssl "$@" 2>/dev/null; }

o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Fuzz/CN=ISMail Fuzz CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -days 3650 -keyout ca.key -out ca.pem
o req -new -newkey rsa:2048 -nodes -subj "/C=US/ST=Ohio/L=Columbus/O=Example/OU=Mail/CN=mail.example.test" \
  -addext "subjectAltName=DNS:mail.example.test,DNS:www.example.test,DNS:*.example.test,IP:192.0.2.1,email:postmaster@example.test" \
  -keyout leaf.key -out leaf.csr
printf 'subjectAltName=DNS:mail.example.test,DNS:www.example.test\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >ext.cnf
o x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile ext.cnf -out leaf.pem

cat leaf.pem ca.pem leaf.key >"$OUT/leaf-chain-key.pem"
cp leaf.pem "$OUT/leaf.pem"
o x509 -in leaf.pem -outform DER -out "$OUT/leaf.der"
o x509 -in leaf.pem -trustout -addtrust serverAuth -out "$OUT/leaf-trusted.pem"
cp leaf.csr "$OUT/csr.pem"
o req -in leaf.csr -outform DER -out "$OUT/csr.der"
o pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -passout pass: -noiter -nomaciter \
  -out "$OUT/leaf-nopw.p12" || o pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -passout pass: -out "$OUT/leaf-nopw.p12"
o pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -passout pass:fuzz -noiter -nomaciter \
  -out "$OUT/leaf-pw.p12" || o pkcs12 -export -in leaf.pem -inkey leaf.key -certfile ca.pem -passout pass:fuzz -out "$OUT/leaf-pw.p12"
o pkcs12 -export -legacy -in leaf.pem -inkey leaf.key -passout pass:fuzz -out "$OUT/leaf-legacy.p12" || true
o pkcs12 -export -nokeys -in leaf.pem -certfile ca.pem -passout pass: -out "$OUT/certs-only.p12" || true
o crl2pkcs7 -nocrl -certfile leaf.pem -certfile ca.pem -outform DER -out "$OUT/chain.p7b"
o crl2pkcs7 -nocrl -certfile leaf.pem -certfile ca.pem -out "$OUT/chain-p7.pem"
{ cat leaf.pem; o pkcs8 -topk8 -in leaf.key -v2 aes-128-cbc -iter 1 -passout pass:fuzz; } >"$OUT/leaf-enckey.pem"
{ cat leaf.pem; o rsa -in leaf.key -traditional; } >"$OUT/leaf-rsakey.pem"
o pkey -in leaf.key -outform DER -out "$OUT/leaf-key.der"

o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj "/CN=ec.example.test" \
  -addext "subjectAltName=DNS:ec.example.test" -days 3650 -keyout ec.key -out ec.pem
cat ec.pem ec.key >"$OUT/ec-selfsigned.pem"
o req -x509 -newkey ed25519 -nodes -subj "/CN=ed.example.test" -days 3650 -keyout ed.key -out ed.pem
cat ed.pem ed.key >"$OUT/ed25519-selfsigned.pem"
{ cat leaf.pem; printf -- '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n'; cat ca.pem; } \
  >"$OUT/leaf-ca-params.pem"
touch "$OUT/.made"
echo "make-cert-seeds: $(ls "$OUT" | wc -l) seeds in $OUT"
