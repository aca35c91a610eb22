#!/bin/bash
# Alternating rounds of 52cca59's statement and main's before/after (h11r). Run beside ir2.py renamed ir.py,
# ir2.mts.txt renamed ir.mts, and the *.sql written by dump.mts.txt / dump2.mts.txt.
cd "$(dirname "$0")"
for round in 1 2 3; do
  ./ir.py basew base base_exchange.sql base
  ./ir.py mainw main_fp main_rotate_fp.sql main
  HP=1 ./ir.py mainw new_fp new_fp_nosess.sql main
  THIRD=1 ./ir.py mainw main_consent main_rotate.sql main
  HP=1 THIRD=1 ./ir.py mainw new_consent new_consent_nosess.sql main
  SESSION=1 ./ir.py mainw main_fp_sess main_rotate_fp.sql main
  HP=1 SESSION=1 ./ir.py mainw new_fp_sess new_fp_sess.sql main
  SESSION=1 THIRD=1 ./ir.py mainw main_consent_sess main_rotate.sql main
  HP=1 SESSION=1 THIRD=1 ./ir.py mainw new_consent_sess new_consent_sess.sql main
done
