// Package billing is in folder v2: its types' labels are "billing.…".
package billing

// Invoice is a host model whose label is billing.Invoice.
type Invoice struct {
	ID     int    `json:"id"`
	Card   string `json:"card"`
	Amount string `json:"amount"`
}
