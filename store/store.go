// Package store is deprov's persistence contract: configuration,
// identities, accounts, runs, revocations and the audit chain, plus the
// durable job queue (River) that shares the database. store/sqlite and
// store/postgres implement it; store/storetest is the conformance suite
// every implementation passes.
//
// Contract for every implementation:
//   - Each mutating method is atomic: it applies all of its change and the
//     audit events it is given, or none of it.
//   - Audit events are appended to one hash chain (audit.Seal) in commit
//     order; an event with a zero Time gets the store's clock.
//   - Times are kept in UTC at microsecond precision.
//   - Lookups of a missing key return ErrNotFound (wrapped); a
//     compare-and-set that finds another state returns ErrConflict.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/rule"
)

// Sentinel errors, translated from driver errors at the implementation edge.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// UserNameTakenError is PushIdentity's answer when another identity of the
// source holds the userName.
type UserNameTakenError struct {
	Holder identity.Identity
}

func (e *UserNameTakenError) Error() string {
	return fmt.Sprintf("userName %q is taken by identity %s", e.Holder.UserName, e.Holder.ID())
}

// AnyVersion is the ApplyConfig base that applies whatever the stored
// configuration version is.
const AnyVersion int64 = -1

// RunExistsError is CreateRun's answer when the rule already has a run for
// the run's fire time.
type RunExistsError struct {
	Run Run
}

func (e *RunExistsError) Error() string {
	return fmt.Sprintf("rule %s already ran for fire time %s (run %d)", e.Run.RuleID, e.Run.FireAt.UTC().Format(time.RFC3339), e.Run.ID)
}

// Store is the whole persistence contract.
type Store interface {
	// Migrate creates or upgrades the schema, River's tables included. It is
	// safe to call on an up-to-date database.
	Migrate(ctx context.Context) error
	// Close releases the database.
	Close() error
	// NewJobClient builds a River client on this database with cfg.
	NewJobClient(cfg *river.Config) (JobClient, error)

	// ApplyConfig replaces the whole configuration (applications, sources,
	// rules) with cfg, bumps the config version and appends ev. base is the
	// version cfg was made from (compare-and-set): when the stored version
	// is another, nothing changes and the error wraps ErrConflict, so that
	// a change made meanwhile (on another node) is never silently undone.
	// AnyVersion applies cfg whatever the stored version.
	ApplyConfig(ctx context.Context, cfg config.Config, base int64, ev audit.Event) error
	// Config returns the configuration in the order it was applied, and its
	// version (0 before the first apply).
	Config(ctx context.Context) (config.Config, int64, error)
	// ConfigVersion is a cheap read of the version, for watchers.
	ConfigVersion(ctx context.Context) (int64, error)

	// SyncIdentities upserts a source's identities. Identities of the source
	// not in ids are left as they are (a feed's silence is never a leaver).
	// The result's counts are also added to ev.Detail before it is appended.
	// Every created or updated identity is marked pending, in the same
	// transaction, at the result's MarkedAt.
	SyncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, ev audit.Event) (SyncResult, error)
	// PushIdentity is SyncIdentities of one identity pushed by a source
	// whose userNames are unique (case-insensitively, deleted identities
	// included): when another identity of the source holds the userName,
	// nothing changes and the error is a *UserNameTakenError. The check and
	// the write are one transaction, so that nodes taking pushes at once
	// cannot both give one userName away.
	PushIdentity(ctx context.Context, sourceID string, id identity.Identity, ev audit.Event) (SyncResult, error)
	// PendingIdentities returns up to limit identities marked pending at or
	// before `before`, oldest mark first.
	PendingIdentities(ctx context.Context, before time.Time, limit int) ([]PendingIdentity, error)
	// ClearPending clears the pending marks of a source's identities that
	// were set at `at` (an earlier mark left by a sync that failed, or a
	// later one, stays): of keys, or of every identity of the source when
	// keys is nil.
	ClearPending(ctx context.Context, sourceID string, keys []string, at time.Time) error
	// Identity returns one identity by key (identity.Identity.ID()).
	Identity(ctx context.Context, key string) (identity.Identity, error)
	// ListIdentities pages identities in key order.
	ListIdentities(ctx context.Context, q IdentityQuery) ([]identity.Identity, error)
	// CountIdentities counts identities matching q (Limit and After ignored).
	CountIdentities(ctx context.Context, q IdentityQuery) (int, error)

	// ReplaceAccounts stores the result of aggregating one application:
	// listed accounts are upserted with their correlation, accounts of the
	// application not listed are marked deleted. ev.Detail gets the counts.
	ReplaceAccounts(ctx context.Context, appID string, accts []account.Account, ev audit.Event) (AggregateResult, error)
	// ListAccounts pages accounts in (application, native id) order.
	ListAccounts(ctx context.Context, q AccountQuery) ([]account.Account, error)
	// CorrelateAccount links (or, with identityID "", unlinks) an account.
	CorrelateAccount(ctx context.Context, appID, nativeID, identityID string) error

	// Matches returns when the rule first matched each of the identities
	// that it still matches (identities never matched are absent).
	Matches(ctx context.Context, ruleID string, identityIDs []string) (map[string]time.Time, error)

	// CreateRun stores a run with its plan, schedules its revocations,
	// records first-match times (kept when already present), forgets the
	// matches in p.Unmatched, and appends p.Events, atomically. It assigns
	// Run.ID, each Revocation's ID and RunID. A revocation whose (rule,
	// identity, application, account, action) is already scheduled or
	// running makes the whole call fail with ErrConflict. A run with a
	// FireAt is stored once per rule and fire time: when the rule already
	// has a run for it, CreateRun stores nothing and returns a
	// *RunExistsError holding that run.
	CreateRun(ctx context.Context, p CreateRunParams) error
	// Run returns a run with its plan items.
	Run(ctx context.Context, id int64) (Run, error)
	// ListRuns returns runs newest first, without their items.
	ListRuns(ctx context.Context, q RunQuery) ([]Run, error)
	// CountRuns counts runs by rule and state, in that order.
	CountRuns(ctx context.Context) ([]RunCount, error)
	// UpdateRunState moves a run from one of from to to (compare-and-set)
	// and appends ev.
	UpdateRunState(ctx context.Context, id int64, from []RunState, to RunState, ev audit.Event) (Run, error)

	// Revocation returns one revocation.
	Revocation(ctx context.Context, id int64) (Revocation, error)
	// ListRevocations returns revocations in id order.
	ListRevocations(ctx context.Context, q RevocationQuery) ([]Revocation, error)
	// CountRevocations counts revocations by rule, application and state,
	// in that order; states, when given, restrict it to those states.
	CountRevocations(ctx context.Context, states ...RevocationState) ([]RevocationCount, error)
	// UpdateRevocation applies u to a revocation currently in one of from
	// (compare-and-set; ErrConflict otherwise), applies u's account change,
	// forgets the rule's match when u.ForgetMatch, and appends ev.
	UpdateRevocation(ctx context.Context, id int64, from []RevocationState, u RevocationUpdate, ev audit.Event) (Revocation, error)
	// MarkQueued records that jobs exist for these revocations.
	MarkQueued(ctx context.Context, ids []int64) error

	// ResolveRun moves a run from one of p.From to p.To (compare-and-set)
	// and, atomically with it, schedules p.Revocations (their RunID is the
	// run's), records p.Matches and appends p.Events and the
	// p.RevocationEvent events: how a quarantined run is approved or
	// rejected. A duplicate active revocation fails it with ErrConflict.
	ResolveRun(ctx context.Context, p ResolveRunParams) (Run, error)

	// HoldSync keeps a source delivery that the feed guard stopped, with the
	// identities it would have applied, and appends ev; it assigns h.ID.
	HoldSync(ctx context.Context, h *HeldSync, ev audit.Event) error
	// HeldSync returns a held delivery with its identities.
	HeldSync(ctx context.Context, id int64) (HeldSync, error)
	// ListHeldSyncs returns held deliveries newest first, without identities.
	ListHeldSyncs(ctx context.Context, q HeldSyncQuery) ([]HeldSync, error)
	// ResolveHeldSync moves a held delivery from pending to approved or
	// rejected (compare-and-set) and appends ev. Applying an approved
	// delivery's identities is a separate SyncIdentities call.
	ResolveHeldSync(ctx context.Context, id int64, to HeldSyncState, by string, ev audit.Event) (HeldSync, error)

	// CreateToken stores an API token (its hash only) and appends ev; it
	// assigns t.ID.
	CreateToken(ctx context.Context, t *Token, ev audit.Event) error
	// TokenByHash finds an unrevoked token by the SHA-256 hex of its secret.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// ListTokens returns every token, revoked ones included, by id.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks a token revoked and appends ev.
	RevokeToken(ctx context.Context, id int64, ev audit.Event) error
	// TouchToken records that a token was used (best effort, no audit).
	TouchToken(ctx context.Context, id int64, at time.Time) error

	// Setting reads a server setting (e.g. the session signing key);
	// ErrNotFound when unset.
	Setting(ctx context.Context, key string) (string, error)
	// PutSettingIfAbsent stores a setting unless one exists, and returns
	// the value now stored: safe for several nodes starting at once.
	PutSettingIfAbsent(ctx context.Context, key, value string) (string, error)

	// AppendAudit appends events that go with no other change.
	AppendAudit(ctx context.Context, evs ...audit.Event) error
	// ListAudit returns events in chain order.
	ListAudit(ctx context.Context, q AuditQuery) ([]audit.Event, error)
	// AuditHead returns the position and hash of the chain's last event
	// (zero when the chain is empty).
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
}

// JobClient is the part of a River client deprov uses; river.Client is
// generic over the driver's transaction type, and both the SQLite and the
// PostgreSQL instantiation satisfy this.
type JobClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	JobCancel(ctx context.Context, jobID int64) (*rivertype.JobRow, error)
	Queues() *river.QueueBundle
	PeriodicJobs() *river.PeriodicJobBundle
}

// SyncResult counts what a source sync changed.
type SyncResult struct {
	Created       int `json:"created"`
	Updated       int `json:"updated"`
	Unchanged     int `json:"unchanged"`
	StatusChanged int `json:"statusChanged"`
	// Changed lists the keys of created and updated identities.
	Changed []string `json:"-"`
	// MarkedAt is when the changed identities were marked pending (see
	// PendingIdentities); zero when nothing changed.
	MarkedAt time.Time `json:"-"`
}

// PendingIdentity is an identity a sync changed whose consequences are not
// yet known to be carried out.
type PendingIdentity struct {
	Key, SourceID string
	// Since is when it was marked.
	Since time.Time
}

// AggregateResult counts what an aggregation found.
type AggregateResult struct {
	Accounts     int `json:"accounts"`
	Correlated   int `json:"correlated"`
	Uncorrelated int `json:"uncorrelated"`
	Removed      int `json:"removed"`
}

// IdentityQuery selects identities. Zero fields do not filter.
type IdentityQuery struct {
	SourceID string
	// UserName and ExternalID select exact values (userName case-insensitively).
	UserName   string
	ExternalID string
	// Search matches a substring of userName, email or displayName, case-insensitively.
	Search string
	// After is the key to continue after (keyset paging).
	After string
	// Offset skips this many identities (offset paging, for SCIM's
	// startIndex); prefer After.
	Offset int
	// Limit caps the page; 0 means 100.
	Limit int
	// HideStatus leaves out identities with this status (case-insensitive).
	HideStatus string
}

// AccountQuery selects accounts. Zero fields do not filter.
type AccountQuery struct {
	ApplicationID string
	// IdentityIDs selects the accounts correlated to these identities.
	IdentityIDs []string
	// IdentityFrom and IdentityTo, when IdentityTo is set, select the
	// accounts correlated to identities whose keys lie between them, both
	// included, in the order ListIdentities pages in: the accounts of a
	// page of identities, read as one range instead of key by key.
	IdentityFrom, IdentityTo string
	// Uncorrelated selects accounts linked to no identity.
	Uncorrelated bool
	// IncludeDeleted also returns accounts aggregation no longer saw.
	IncludeDeleted bool
	// After is "<applicationID>/<nativeID>" to continue after.
	After string
	// Limit caps the page; 0 means no limit.
	Limit int
}

// RunState is where a run stands.
type RunState string

// Run states.
const (
	// RunCompleted: the plan was stored and its revocations scheduled.
	RunCompleted RunState = "completed"
	// RunQuarantined: the plan exceeded a safety limit; nothing is scheduled until approved.
	RunQuarantined RunState = "quarantined"
	// RunApproved: a quarantined run an operator approved; its plan is scheduled.
	RunApproved RunState = "approved"
	// RunRejected: a quarantined run an operator rejected; nothing was scheduled.
	RunRejected RunState = "rejected"
	// RunFailed: evaluation failed; Error says why and nothing was scheduled.
	RunFailed RunState = "failed"
)

// Run is one evaluation of one rule.
type Run struct {
	ID     int64  `json:"id"`
	RuleID string `json:"ruleId"`
	// Trigger is what started it: schedule, manual, immediate, approval.
	Trigger string `json:"trigger"`
	// Actor is who started it.
	Actor      string    `json:"actor"`
	State      RunState  `json:"state"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// FireAt is the schedule's fire time a scheduled run is for; zero for
	// other runs. A rule has at most one run per fire time, so a scheduled
	// job taken up again after a crash does not run the rule twice.
	FireAt time.Time   `json:"fireAt,omitzero"`
	Counts rule.Counts `json:"counts"`
	// Items is the plan, planned and skipped; empty in lists.
	Items []rule.Item `json:"items,omitempty"`
	Error string      `json:"error,omitempty"`
}

// RunQuery selects runs. Zero fields do not filter.
type RunQuery struct {
	RuleID string
	State  RunState
	// Before is a run id to continue before (newest first).
	Before int64
	// Limit caps the page; 0 means 50.
	Limit int
}

// CreateRunParams is what CreateRun stores.
type CreateRunParams struct {
	Run         *Run
	Revocations []Revocation
	// Matches are first-match times to record (existing ones are kept).
	Matches map[string]time.Time
	// Unmatched are identities the rule no longer matches.
	Unmatched []string
	Events    []audit.Event
	// RevocationEvent, when set, is called for each revocation once its ID
	// is assigned; the event it returns is appended after Events, in the
	// same transaction.
	RevocationEvent func(Revocation) audit.Event
}

// RevocationState is where a revocation stands.
type RevocationState string

// Revocation states.
const (
	Scheduled RevocationState = "scheduled"
	Running   RevocationState = "running"
	Succeeded RevocationState = "succeeded"
	Failed    RevocationState = "failed"
	Cancelled RevocationState = "cancelled"
	// Waiting: a manual work item waits for a person.
	Waiting RevocationState = "waiting"
)

// Active are the states in which a revocation may still change a target.
var Active = []RevocationState{Scheduled, Running, Waiting}

// RunCount is how many runs of a rule are in a state.
type RunCount struct {
	RuleID string
	State  RunState
	N      int
}

// RevocationCount is how many revocations of a rule in an application are
// in a state.
type RevocationCount struct {
	RuleID        string
	ApplicationID string
	State         RevocationState
	N             int
}

// Revocation is one planned removal of access.
type Revocation struct {
	ID            int64           `json:"id"`
	RunID         int64           `json:"runId"`
	RuleID        string          `json:"ruleId"`
	IdentityID    string          `json:"identityId"`
	UserName      string          `json:"userName"`
	ApplicationID string          `json:"applicationId"`
	AccountID     string          `json:"accountId"`
	AccountName   string          `json:"accountName"`
	Action        account.Action  `json:"action"`
	State         RevocationState `json:"state"`
	// DueAt is when it may run (first match + grace, or the next retry).
	DueAt      time.Time `json:"dueAt"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Attempts   int       `json:"attempts"`
	// Pauses counts the pauses the target asked for (Retry-After) since
	// the last attempt that counted, which do not use up attempts.
	Pauses    int    `json:"pauses,omitempty"`
	LastError string `json:"lastError,omitempty"`
	// Result says what the target change did ("already done", groups removed...).
	Result string `json:"result,omitempty"`
	// CancelReason says why it was cancelled.
	CancelReason string `json:"cancelReason,omitempty"`
	// Queued says a job exists for it.
	Queued bool `json:"-"`
	// Before is the account as it was just before the revocation changed
	// it (state and entitlements), kept so that the change can be undone.
	Before *account.Account `json:"before,omitempty"`
	// UndoOf is, for a restoring revocation of an undo run, the id of the
	// revocation it undoes.
	UndoOf int64 `json:"undoOf,omitempty"`
}

// RevocationQuery selects revocations. Zero fields do not filter.
type RevocationQuery struct {
	States        []RevocationState
	RuleID        string
	RunID         int64
	IdentityID    string
	ApplicationID string
	// Unqueued selects revocations with no job yet.
	Unqueued bool
	// After is an id to continue after.
	After int64
	// Limit caps the page; 0 means no limit.
	Limit int
	// LatestFirst orders by FinishedAt, latest first (unfinished ones
	// last, then by id, highest first), instead of by id: the latest few
	// finished of many.
	LatestFirst bool
}

// RevocationUpdate is a change to a revocation; nil fields are unchanged.
type RevocationUpdate struct {
	State        RevocationState
	DueAt        *time.Time
	Attempts     *int
	Pauses       *int
	LastError    *string
	Result       *string
	CancelReason *string
	FinishedAt   *time.Time
	// AccountState, when set, is recorded on the revocation's account.
	AccountState account.State
	// ClearEntitlements empties the account's recorded entitlements.
	ClearEntitlements bool
	// ForgetMatch forgets that the rule matched the identity.
	ForgetMatch bool
	// Before records the account's state before the change.
	Before *account.Account
	// Unqueue marks the revocation as needing a job again (a retry).
	Unqueue bool
}

// ResolveRunParams is what ResolveRun changes.
type ResolveRunParams struct {
	ID              int64
	From            []RunState
	To              RunState
	Revocations     []Revocation
	Matches         map[string]time.Time
	Events          []audit.Event
	RevocationEvent func(Revocation) audit.Event
}

// HeldSyncState is where a held source delivery stands.
type HeldSyncState string

// Held sync states.
const (
	HeldPending  HeldSyncState = "pending"
	HeldApproved HeldSyncState = "approved"
	HeldRejected HeldSyncState = "rejected"
)

// HeldSync is a source delivery the feed guard stopped.
type HeldSync struct {
	ID       int64         `json:"id"`
	SourceID string        `json:"sourceId"`
	State    HeldSyncState `json:"state"`
	// Reason says which guard held it.
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"createdAt"`
	// ResolvedAt and ResolvedBy say who approved or rejected it, and when.
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	ResolvedBy string    `json:"resolvedBy,omitempty"`
	// Rows is how many identities the delivery held.
	Rows int `json:"rows"`
	// Identities is the delivery; empty in lists.
	Identities []identity.Identity `json:"identities,omitempty"`
}

// HeldSyncQuery selects held deliveries. Zero fields do not filter.
type HeldSyncQuery struct {
	SourceID string
	State    HeldSyncState
	Limit    int
}

// Role is what an API token may do.
type Role string

// Roles.
const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleOperator may run rules, approve, cancel, retry and undo.
	RoleOperator Role = "operator"
	// RoleAuditor may only read.
	RoleAuditor Role = "auditor"
)

// Token is an API token; only the hash of its secret is kept.
type Token struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	LastUsed  time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// AuditQuery selects audit events. Zero fields do not filter.
type AuditQuery struct {
	RuleID     string
	IdentityID string
	RunID      int64
	// Action selects events whose action starts with this prefix.
	Action string
	From   time.Time
	To     time.Time
	// AfterSeq continues after a chain position.
	AfterSeq int64
	// Limit caps the page; 0 means no limit.
	Limit int
}
