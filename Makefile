# dossierfs: encrypted, policy-checked, audited client-folder filesystem.
# GNU make. `make`, `make check`, `make install PREFIX=... DESTDIR=...`,
# `make clean`, `make SANITIZE=address,undefined check`.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DOCDIR  ?= $(PREFIX)/share/doc/dossierfs
PKG_CONFIG ?= pkg-config

PKGS       = fuse3 libsodium sqlite3 libacl inih
TEST_PKGS  = check

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Iinclude
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# pkg-config is asked only when a compile needs it, so that `make deps`
# works on a machine that has none of the libraries yet.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS))
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

# Pure modules: no FUSE, no globals; unit-tested directly.
CORE_SRC = src/blockcodec.c src/fsio.c src/namecodec.c src/keywrap.c src/secret.c \
           src/policy.c src/aclview.c src/audit.c src/auditview.c src/sharepkg.c \
           src/alert.c src/lockout.c src/report.c src/control.c src/util.c
CORE_OBJ = $(CORE_SRC:.c=.o)
CLI_SRC  = src/vault.c src/unlock.c src/erase.c
CLI_OBJ  = $(CLI_SRC:.c=.o)
FS_SRC   = src/fs.c src/guard.c src/share.c src/monitor.c
FS_OBJ   = $(FS_SRC:.c=.o)

BINS  = src/dossierfs src/dossierctl
UNITS = $(patsubst %.c,%,$(wildcard tests/check_*.c))
# dossierfs-faults: the daemon with test-only fault injection in the
# eraser (DOSSIER_FAULT=write|verify in its environment).
TOOLS = tests/fsx tests/auditfill tests/dossierfs-faults tests/auditscript \
        tests/alertfeed


.PHONY: FORCE all check unit integration install uninstall clean deps demo bench
all: $(BINS)
FORCE:

# Objects are rebuilt when the flags change (a SANITIZE build after a
# plain one, or back), not only when sources do.
FLAGS_STAMP = src/.build-flags
$(FLAGS_STAMP): FORCE
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' > $@

src/%.o: src/%.c $(wildcard include/*.h) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

src/dossierfs: src/dossierfs.o $(FS_OBJ) $(CLI_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

src/dossierctl: src/dossierctl.o src/ctl_policy.o src/ctl_audit.o src/ctl_erase.o src/ctl_cert.o \
		src/ctl_retention.o src/ctl_share.o src/ctl_unlock.o src/ctl_report.o src/ctlutil.o src/erase_list.o $(CLI_OBJ) \
		$(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

tests/check_%: tests/check_%.c tests/check_main.h tests/check_tmp.h $(CORE_OBJ) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) \
		-o $@ $< $(CORE_OBJ) $(PKG_LIBS) $(CHECK_LIBS)

src/erase-faults.o: src/erase.c $(wildcard include/*.h) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) -DDOSSIER_FAULTS $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

tests/dossierfs-faults: src/dossierfs.o $(FS_OBJ) $(filter-out src/erase.o,$(CLI_OBJ)) \
		src/erase-faults.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

tests/fsx: tests/fsx.c $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

tests/auditfill: tests/auditfill.c $(CLI_OBJ) $(CORE_OBJ) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(CLI_OBJ) $(CORE_OBJ) $(PKG_LIBS)

tests/alertfeed: tests/alertfeed.c $(CORE_OBJ) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(CORE_OBJ) $(PKG_LIBS)

tests/auditscript: tests/auditscript.c $(CLI_OBJ) $(CORE_OBJ) $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(CLI_OBJ) $(CORE_OBJ) $(PKG_LIBS)

# Installs the Debian packages the build and the tests need (idempotent).
deps:
	@sh scripts/deps.sh

unit: deps
	$(MAKE) $(UNITS)
	@set -e; for t in $(UNITS); do echo "== $$t"; ./$$t; done

integration: deps
	$(MAKE) $(BINS) $(TOOLS)
	bash tests/integration/run.sh

check: deps
	$(MAKE) $(BINS) $(UNITS) $(TOOLS)
	@bash tests/run.sh $(UNITS)

demo:
	bash scripts/demo.sh

bench: deps
	$(MAKE) $(BINS)
	bash scripts/bench.sh

install: $(BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 src/dossierfs $(DESTDIR)$(SBINDIR)/dossierfs
	install -m 0755 src/dossierctl $(DESTDIR)$(BINDIR)/dossierctl
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -d $(DESTDIR)$(DOCDIR)/policy
	install -m 0644 policy/*.ini policy/README.md $(DESTDIR)$(DOCDIR)/policy/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dossierfs $(DESTDIR)$(BINDIR)/dossierctl
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -f src/*.o $(BINS) $(UNITS) $(TOOLS) tests/*.o $(FLAGS_STAMP)
