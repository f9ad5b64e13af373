package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	_ "github.com/deprov/deprov/connector/scim" // the applications' connector type
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"
)

// DryRunRule is the rule of the dry-run figure: every kind of trigger, the
// CEL hook written as the README advises (presence tested first, so that
// identities without an end date are not hook errors).
const DryRunRule = `
  - id: leavers
    trigger:
      statuses: [TERMINATED, INACTIVE]
      endDate: {offsetDays: 0}
      hook: {cel: 'user.attributes.contract == "fixed-term" && has(user.endDate) && user.endDate < now + duration("720h")'}
    action: disable
`

// Config is a configuration with one SCIM application at url, the hr
// source and rules (YAML list items).
func Config(url, token, rules string) (config.Config, error) {
	y := `
applications:
  - id: ` + AppID + `
    connector: {type: scim, url: "` + url + `", token: "` + token + `"}
sources:
  - id: ` + SourceID + `
    type: csv
    path: hr.csv
rules:
` + rules
	return config.Parse(strings.NewReader(y))
}

// Apply validates and stores a configuration through a throwaway engine.
func Apply(ctx context.Context, st store.Store, cfg config.Config) error {
	e, err := engine.New(engine.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer e.Close()
	_, err = e.Apply(ctx, cfg, "bench", false)
	return err
}

// Load stores n identities made by person (SyncIdentities in batches of
// batch, each its own transaction, as a source sync of that size would)
// and, when acct is not nil, one account each (one ReplaceAccounts, as an
// aggregation does). It returns how long each part took.
func Load(ctx context.Context, st store.Store, n, batch int, person func(int) identity.Identity, acct func(int) account.Account) (ids, accts time.Duration, err error) {
	return LoadAccounts(ctx, st, n, n, batch, person, acct)
}

// LoadAccounts is Load with nAccts accounts (acct(0) … acct(nAccts-1)).
func LoadAccounts(ctx context.Context, st store.Store, n, nAccts, batch int, person func(int) identity.Identity, acct func(int) account.Account) (ids, accts time.Duration, err error) {
	start := time.Now()
	page := make([]identity.Identity, 0, batch)
	for i := 0; i < n; i += batch {
		page = page[:0]
		for j := i; j < min(i+batch, n); j++ {
			page = append(page, person(j))
		}
		if _, err := st.SyncIdentities(ctx, SourceID, page, audit.Event{Actor: "bench", Action: "source.synced"}); err != nil {
			return 0, 0, err
		}
	}
	ids = time.Since(start)
	if acct == nil {
		return ids, 0, nil
	}
	start = time.Now()
	all := make([]account.Account, nAccts)
	for i := range all {
		all[i] = acct(i)
	}
	if _, err := st.ReplaceAccounts(ctx, AppID, all, audit.Event{Actor: "bench", Action: "application.aggregated", ApplicationID: AppID}); err != nil {
		return ids, 0, err
	}
	return ids, time.Since(start), nil
}

// datasetVersion changes whenever Person, Account or DryRunRule change, so
// that a cached database is never reused for different data.
const datasetVersion = "1"

// DryRunDB returns the path of a SQLite database holding n identities made
// by Person, one account each and DryRunRule, building it on first use in
// dir and reusing it afterwards. The file's name carries the dataset
// version and a hash of the SQLite migrations, so a schema change builds a
// new one. logf reports how long building took.
func DryRunDB(ctx context.Context, dir string, n int, logf func(format string, args ...any)) (string, error) {
	schema, err := migrationsHash()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("dryrun-%d-v%s-%s.db", n, datasetVersion, schema))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	st, err := sqlite.Open(tmp, sqlite.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return "", err
	}
	cfg, err := Config("http://127.0.0.1:9/scim/v2", "unused", DryRunRule)
	if err != nil {
		return "", err
	}
	if err := Apply(ctx, st, cfg); err != nil {
		return "", err
	}
	tIDs, tAccts, err := Load(ctx, st, n, 10_000, Person, func(i int) account.Account { return Account(i, "") })
	if err != nil {
		return "", err
	}
	logf("built %s: %d identities in %s (SyncIdentities, batches of 10k: %.0f/s), %d accounts in %s (one ReplaceAccounts)",
		filepath.Base(path), n, tIDs.Round(time.Millisecond), float64(n)/tIDs.Seconds(), n, tAccts.Round(time.Millisecond))
	// Fold the WAL into the file, so that the cached database is one file.
	if _, err := st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return "", err
	}
	if err := st.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	return path, nil
}

// migrationsHash is a short hash of the SQLite store's migrations, read
// from the module's source (benchmarks run in the module).
func migrationsHash() (string, error) {
	dir, err := moduleDir()
	if err != nil {
		return "", err
	}
	mdir := filepath.Join(dir, "store", "sqlite", "migrations")
	entries, err := os.ReadDir(mdir)
	if err != nil {
		return "", fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		f, err := os.Open(filepath.Join(mdir, name))
		if err != nil {
			return "", err
		}
		_, _ = io.WriteString(h, name)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// moduleDir finds the module root above the working directory.
func moduleDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// CacheDir is where prepared databases are kept between runs:
// $DEPROV_BENCH_CACHE, else the user's cache directory/deprov-bench.
func CacheDir() (string, error) {
	if d := os.Getenv("DEPROV_BENCH_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "deprov-bench"), nil
}
