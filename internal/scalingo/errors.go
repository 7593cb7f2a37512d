package scalingo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// RequestFailedError is returned when the API answers with an unexpected status.
// APIError holds the decoded body: *NotFoundError (404), *UnprocessableEntityError
// (422) or *APIError (anything else).
type RequestFailedError struct {
	Code     int
	Method   string
	Endpoint string // path only: query strings may carry pre-signed tokens
	APIError error
}

func (e *RequestFailedError) Error() string {
	return fmt.Sprintf("%s %s answered %d: %v", e.Method, e.Endpoint, e.Code, e.APIError)
}

func (e *RequestFailedError) Unwrap() error { return e.APIError }

// NotFoundError is the body of a 404: {"resource": "app", "error": "not found"}.
type NotFoundError struct {
	Resource string `json:"resource"`
	Err      string `json:"error"`
}

func (e *NotFoundError) Error() string {
	switch {
	case e.Resource != "" && e.Err != "":
		return fmt.Sprintf("%s %s", e.Resource, e.Err)
	case e.Resource != "":
		return fmt.Sprintf("the %s was not found", e.Resource)
	case e.Err != "":
		return e.Err
	}
	return "not found"
}

// UnprocessableEntityError is the body of a 422: {"errors": {"field": ["message"]}}.
type UnprocessableEntityError struct {
	Errors map[string][]string `json:"errors"`
}

func (e *UnprocessableEntityError) Error() string {
	fields := make([]string, 0, len(e.Errors))
	for f := range e.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f+" "+strings.Join(e.Errors[f], ", "))
	}
	if len(parts) == 0 {
		return "invalid request"
	}
	return strings.Join(parts, "; ")
}

// APIError is any other error body: {"error": "message"}.
type APIError struct {
	Message string `json:"error"`
}

func (e *APIError) Error() string { return e.Message }

func newRequestFailedError(resp *http.Response, method, path string) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rf := &RequestFailedError{Code: resp.StatusCode, Method: method, Endpoint: path}
	switch resp.StatusCode {
	case http.StatusNotFound:
		nf := &NotFoundError{}
		if json.Unmarshal(raw, nf) != nil {
			nf.Err = "not found"
		}
		rf.APIError = nf
	case http.StatusUnprocessableEntity:
		ue := &UnprocessableEntityError{}
		if json.Unmarshal(raw, ue) != nil || len(ue.Errors) == 0 {
			var single APIError
			_ = json.Unmarshal(raw, &single)
			ue.Errors = map[string][]string{"request": {orDefault(single.Message, "is invalid")}}
		}
		rf.APIError = ue
	default:
		ae := &APIError{}
		if json.Unmarshal(raw, ae) != nil || ae.Message == "" {
			ae.Message = http.StatusText(resp.StatusCode)
			if resp.StatusCode >= 500 {
				ae.Message += " (the request was retried; try again later)"
			}
		}
		rf.APIError = ae
	}
	return rf
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// StatusCode returns the HTTP status of a RequestFailedError in err's chain, or 0.
func StatusCode(err error) int {
	var rf *RequestFailedError
	if errors.As(err, &rf) {
		return rf.Code
	}
	return 0
}

// DeploymentFailedError is returned by WaitDeployment when a deployment finishes in
// any status but success. OutputTail holds the end of the deployment's output.
type DeploymentFailedError struct {
	App        string
	ID         string
	GitRef     string
	Status     DeploymentStatus
	OutputTail string
}

func (e *DeploymentFailedError) Error() string {
	msg := fmt.Sprintf("deployment %s of %s (git_ref %s) ended with status %s", e.ID, e.App, e.GitRef, e.Status)
	if e.OutputTail != "" {
		msg += "; end of its output:\n" + e.OutputTail
	}
	return msg
}

// OperationFailedError is returned by WaitOperation when an operation ends in error.
type OperationFailedError struct {
	App  string
	ID   string
	Type string
	Err  string
}

func (e *OperationFailedError) Error() string {
	return fmt.Sprintf("%s operation %s on %s failed: %s", e.Type, e.ID, e.App, orDefault(e.Err, "no detail given"))
}

// BackupFailedError is returned by WaitBackup when a backup ends in error.
type BackupFailedError struct {
	AddonID string
	ID      string
}

func (e *BackupFailedError) Error() string {
	return fmt.Sprintf("backup %s of database %s ended in error", e.ID, e.AddonID)
}
