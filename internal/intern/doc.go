// Package intern shares the strings a decoder reads over and over (meter
// names, tag keys, resource ids, JSON object names): a Table returns the
// same string for the same bytes, so a repeated value costs a map lookup
// instead of an allocation. A Table is bounded in entries and in the
// length of what it keeps, so hostile input cannot grow it: past either
// bound a string is returned without being kept.
package intern
