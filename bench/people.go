package bench

import (
	"fmt"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
)

// Now is the benchmarks' evaluation time: end dates are spread around it.
var Now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// SourceID and AppID name the source and the application of every benchmark.
const (
	SourceID = "hr"
	AppID    = "app"
)

var (
	departments = []string{"sales", "engineering", "finance", "support", "marketing", "operations", "legal", "board"}
	countries   = []string{"DE", "FR", "US", "GB", "NL"}
)

// Person is the i-th identity of a large HR feed, the same on every call.
// The mix is what a company of a million people might export: 2 % have
// left (TERMINATED), 1 % are on leave, a fifth are on fixed-term contracts
// whose end dates run from 60 days ago to about three years ahead (so ~1 %
// are past their end date), and every record carries a contract, country
// and cost-centre column. About 3.5 % of them match DryRunRule.
func Person(i int) identity.Identity {
	id := identity.Identity{
		SourceID:    SourceID,
		ExternalID:  fmt.Sprintf("E%07d", i),
		UserName:    fmt.Sprintf("user%07d", i),
		Email:       fmt.Sprintf("user%07d@example.com", i),
		DisplayName: fmt.Sprintf("Person %d", i),
		Status:      "ACTIVE",
		Department:  departments[i%len(departments)],
		Manager:     fmt.Sprintf("E%07d", i/10),
		Attributes: map[string]string{
			"contract":   "permanent",
			"country":    countries[i%len(countries)],
			"costCenter": fmt.Sprint(4000 + i%500),
		},
	}
	switch {
	case i%50 == 7:
		id.Status = "TERMINATED"
	case i%100 == 13:
		id.Status = "LEAVE"
	}
	if i%5 == 1 {
		id.Attributes["contract"] = "fixed-term"
		// A multiplicative hash spreads the days evenly over the range.
		days := (i*7919)%1200 - 60
		id.EndDate = identity.EndDate{Time: time.Date(2026, 11, 26+days, 0, 0, 0, 0, time.UTC), DateOnly: true}
	}
	return id
}

// Account is the i-th identity's account in AppID, correlated to it.
func Account(i int, nativeID string) account.Account {
	if nativeID == "" {
		nativeID = fmt.Sprintf("acct-%07d", i)
	}
	return account.Account{
		ApplicationID: AppID,
		NativeID:      nativeID,
		UserName:      fmt.Sprintf("user%07d", i),
		Email:         fmt.Sprintf("user%07d@example.com", i),
		State:         account.Active,
		IdentityID:    identity.Key(SourceID, fmt.Sprintf("E%07d", i)),
		SeenAt:        Now,
	}
}

// Leaver is the i-th identity of a feed where everyone has left.
func Leaver(i int) identity.Identity {
	id := Person(i)
	id.Status = "TERMINATED"
	return id
}
