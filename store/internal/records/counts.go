package records

import "github.com/deprov/deprov/store"

// CountRunsSQL counts runs by rule and state.
const CountRunsSQL = `SELECT rule_id, state, count(*) FROM runs GROUP BY rule_id, state ORDER BY rule_id, state`

// CountRevocationsSQL counts revocations by rule, application and state;
// where is "" or a WHERE clause in the dialect's placeholders.
func CountRevocationsSQL(where string) string {
	return `SELECT rule_id, application_id, state, count(*) FROM revocations` + where +
		` GROUP BY rule_id, application_id, state ORDER BY rule_id, application_id, state`
}

// ScanRunCount scans a row of CountRunsSQL.
func ScanRunCount(sc Scanner) (store.RunCount, error) {
	var c store.RunCount
	err := sc.Scan(&c.RuleID, &c.State, &c.N)
	return c, err
}

// ScanRevocationCount scans a row of CountRevocationsSQL.
func ScanRevocationCount(sc Scanner) (store.RevocationCount, error) {
	var c store.RevocationCount
	err := sc.Scan(&c.RuleID, &c.ApplicationID, &c.State, &c.N)
	return c, err
}
