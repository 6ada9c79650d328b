// Package store is in folder rvmodels: its types' labels are "store.…".
package store

// Customer is a host model whose label is store.Customer.
type Customer struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}
