package main

import "errors"

// errMalformed marks a response that does not have the shape the definition
// expects: not JSON, no entries where response_entries_key points, a text
// pattern that matches nothing, a bad next link.
var errMalformed = errors.New("malformed response")

// errTooManyPages is a definition whose next links go on past max_pages.
var errTooManyPages = errors.New("more pages than max_pages")

// errNoResources is a Poll without resources: the polling block names no
// definitions.
var errNoResources = errors.New(`no resources to poll: add discovery = ["http.definitions"] (or resources = ["<meter block name>", ...]) to the polling block`)
