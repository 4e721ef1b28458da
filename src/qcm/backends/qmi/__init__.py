"""QMI: the control protocol of qmi_wwan modules (and GobiNet, later)."""
