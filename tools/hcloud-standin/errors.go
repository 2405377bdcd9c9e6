package main

// Errors as the API reports them: {"error": {"code", "message", "details"}}. Every code the stand-in sends
// is a constructor below, with the HTTP status and where that pairing comes from:
//   [docs]    docs.hetzner.cloud, "Errors": the table of status and code for the generic codes.
//   [hcloud]  hcloud-go v2.40.0, hcloud/error.go: the codes of endpoint-specific refusals. The docs name
//             them per endpoint without a status of their own; the stand-in answers them 422, the status
//             of the generic refusals of well-formed input (invalid_input, service_error).
//   [seen]    the real API's answer as a client printed it, where neither names the message; the report is
//             cited at the constructor.

import (
	"fmt"
	"net/http"
)

// apiError is an error as the API reports it.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

type fieldError struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

// errField is an error with details.fields, as invalid_input and uniqueness_error carry them.
func errField(status int, code, message, field, fieldMessage string) *apiError {
	return &apiError{Status: status, Code: code, Message: message,
		Details: map[string]any{"fields": []fieldError{{Name: field, Messages: []string{fieldMessage}}}}}
}

func errCode(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// [docs] 400 json_error: invalid JSON input in the request.
func errJSON(message string) *apiError {
	return errCode(http.StatusBadRequest, "json_error", message)
}

// [docs] 401 unauthorized: an invalid or unknown token.
func errUnauthorized() *apiError {
	return errCode(http.StatusUnauthorized, "unauthorized", "unable to authenticate")
}

// [docs] 404 not_found: entity not found.
func errNotFound(what string) *apiError {
	return errCode(http.StatusNotFound, "not_found", what+" not found")
}

// [docs] 405 method_not_allowed.
func errMethod() *apiError {
	return errCode(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
}

// [docs] 409 uniqueness_error, with the field as invalid_input names it.
func errUniqueness(field string) *apiError {
	return errField(http.StatusConflict, "uniqueness_error", fmt.Sprintf("%s is already used", field), field, "must be unique")
}

// [docs] 412 resource_unavailable: the requested resource is currently unavailable (here: no public IPv4
// left in the rig's range, as the real API answers when a location has none to give).
func errUnavailable(message string) *apiError {
	return errCode(http.StatusPreconditionFailed, "resource_unavailable", message)
}

// [docs] 422 invalid_input, with the per-field details the real API sends.
func errInvalid(field, message string) *apiError {
	return errField(http.StatusUnprocessableEntity, "invalid_input", fmt.Sprintf("invalid input in field '%s'", field), field, message)
}

// [docs] 422 invalid_input; [seen] its message for a server type the location does not offer:
// "unsupported location for server type (invalid_input, ...)" for cax11 in ash, github.com/roots/trellis-cli
// issue 622 (2025-12-30). No details.fields in that report: none sent.
func errUnsupportedLocation() *apiError {
	return errCode(http.StatusUnprocessableEntity, "invalid_input", "unsupported location for server type")
}

// [docs] 422 service_error: an error within a service (e.g. deleting a subnet that servers use).
func errService(message string) *apiError {
	return errCode(http.StatusUnprocessableEntity, "service_error", message)
}

// [docs] 422 unsupported_error: the resource does not support the action.
func errUnsupported(message string) *apiError {
	return errCode(http.StatusUnprocessableEntity, "unsupported_error", message)
}

// [docs] 423 locked: another action is running on the resource.
func errLocked() *apiError {
	return errCode(http.StatusLocked, "locked", "server is locked: another action is running")
}

// [docs] 423 protected: the resource is protected against this action.
func errProtected(what string) *apiError {
	return errCode(http.StatusLocked, "protected", what+" is delete protected")
}

// [hcloud] endpoint-specific refusals, 422: resource_in_use, server_not_stopped, placement_error,
// invalid_server_type, server_already_attached, server_not_attached_to_network, server_already_added,
// ip_not_available, no_subnet_available, firewall_already_applied, firewall_resource_not_found.
func errRefused(code, message string) *apiError {
	return errCode(http.StatusUnprocessableEntity, code, message)
}
