module pidkit.invalid/peer

go 1.23
