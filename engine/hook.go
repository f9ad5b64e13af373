package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
)

// hookRequest is what a URL hook receives.
type hookRequest struct {
	Rule     string            `json:"rule"`
	Identity identity.Identity `json:"identity"`
	Accounts []account.Account `json:"accounts"`
	Now      time.Time         `json:"now"`
}

// hookResponse is what a URL hook answers.
type hookResponse struct {
	Deprovision *bool  `json:"deprovision"`
	Reason      string `json:"reason"`
}

// urlHook returns the function that calls a rule's URL hook. Errors,
// timeouts, non-2xx answers and answers without a boolean `deprovision`
// are errors, which never deprovision.
func (e *Engine) urlHook(ctx context.Context, ruleID string, h config.Hook) func(identity.Identity, []account.Account) (bool, string, error) {
	timeout := time.Duration(h.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	client := e.http
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return func(id identity.Identity, accts []account.Account) (bool, string, error) {
		body, err := json.Marshal(hookRequest{Rule: ruleID, Identity: id, Accounts: accts, Now: e.Now()})
		if err != nil {
			return false, "", err
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(cctx, http.MethodPost, h.URL, bytes.NewReader(body))
		if err != nil {
			return false, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return false, "", fmt.Errorf("no answer within %s", timeout)
			}
			return false, "", fmt.Errorf("call failed: %w", err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return false, "", fmt.Errorf("read answer: %w", err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return false, "", fmt.Errorf("answered %s", resp.Status)
		}
		var out hookResponse
		if err := json.Unmarshal(data, &out); err != nil {
			return false, "", fmt.Errorf("answer is not JSON: %w", err)
		}
		if out.Deprovision == nil {
			return false, "", errors.New(`answer has no boolean "deprovision"`)
		}
		return *out.Deprovision, out.Reason, nil
	}
}
