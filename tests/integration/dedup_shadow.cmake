# Page sharing in shadow mode (issue 5): include()d from tests/integration/CMakeLists.txt,
# after l1_case(), CHECK, L1VMM and PASS are defined there.
#
# Two kinds of case: l1_case() runs l1vmm once and checks its output (every guest
# verifies every page it owns while the scanner shares and unshares under it:
# mismatches must stay 0); dedup_shadow_case() runs test_dedup.py, which also
# reads dedup/ and vms/NAME/dedup/ while the guests run and checks what was shared.

function(dedup_shadow_case name)
  add_test(NAME integration.${name}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_dedup.py
            --l1vmm ${L1VMM} --mode shadow ${ARGN})
  set_tests_properties(integration.${name} PROPERTIES
    LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77)
endfunction()

# --- the guests' own verdict: every byte stays right while pages are shared,
# zeroed and unshared (copy-on-write) under them
set(DUP "workload=dup size=32M seconds=15 shared=40 internal=20 zero=20")
l1_case(dedup_shadow_two_guests_verify --status 0
  --stdout "^\\[a\\] dup: rounds=15 mutated=[0-9]+ mismatches=0 " --stdout "^\\[a\\] l1guest: workload=dup result=PASS"
  --stdout "^\\[b\\] dup: rounds=15 mutated=[0-9]+ mismatches=0 " --stdout "^\\[b\\] l1guest: workload=dup result=PASS"
  --not-stdout "mismatches=[1-9]"
  -- ${L1VMM} run --timeout 120 --set dedup/run=1
     "--vm" "name=a,mem=128M,mode=shadow,domain=d,cmdline=\"${DUP} mutate=5 seed=1 vm=1\""
     "--vm" "name=b,mem=128M,mode=shadow,domain=d,cmdline=\"${DUP} mutate=5 seed=1 vm=2\"")
# two vCPUs per guest: unsharing on one vCPU while the other reads the same VM
l1_case(dedup_shadow_2vcpus_verify --status 0
  --stdout "^\\[a\\] dup: rounds=15 mutated=[0-9]+ mismatches=0 "
  --stdout "^\\[b\\] dup: rounds=15 mutated=[0-9]+ mismatches=0 "
  --not-stdout "mismatches=[1-9]"
  -- ${L1VMM} run --timeout 120 --set dedup/run=1 --set dedup/sleep_millisecs=5
     "--vm" "name=a,mem=128M,vcpus=2,mode=shadow,domain=d,cmdline=\"${DUP} mutate=10 seed=3 vm=1\""
     "--vm" "name=b,mem=128M,vcpus=2,mode=shadow,domain=d,cmdline=\"${DUP} mutate=10 seed=3 vm=2\"")

# --- what was shared, read from the tree while the guests run (test_dedup.py)
dedup_shadow_case(dedup_shadow_same_domain --vms 2 --domains same)
dedup_shadow_case(dedup_shadow_different_domains --vms 2 --domains different)
dedup_shadow_case(dedup_shadow_mutate --vms 2 --domains same --mutate 10)
dedup_shadow_case(dedup_shadow_four_vms --vms 4 --domains same)
dedup_shadow_case(dedup_shadow_runs --vms 2 --domains same --runs)
